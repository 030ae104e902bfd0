"""Symbol extraction: definitions and imports for every grammar we ship."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deskmate.context.extract import extract, symbols_for
from deskmate.context.languages import (
    BY_NAME,
    GRAMMARS,
    language_for_path,
    language_for_source,
    parser_for,
    query_for,
)
from deskmate.context.symbols import Definition, Import

# (name, kind, start_line, end_line, signature, doc, parent)
Def = tuple[str, str, int, int, str, str, str]
# (module, names, alias, line)
Imp = tuple[str, tuple[tuple[str, str], ...], str, int]


@dataclass(frozen=True)
class Case:
    language: str
    path: str
    source: str
    definitions: list[Def]
    imports: list[Imp]


PYTHON = Case("python", "shop/models.py", '''\
"""Inventory models."""
from __future__ import annotations

import os.path
import numpy as np, json
from .store import Store, load as load_store
from ..util import *


def helper(x):
    return x


@dataclass(frozen=True)
class Item(Base):
    """One stock item.

    Holds a name.
    """

    name: str

    class Meta:
        ordering = ["name"]

    @property
    def label(self) -> str:
        \'\'\'The label.\'\'\'
        def inner():
            pass
        return self.name

    async def refresh(self,
                      force: bool = False) -> None:  # reload
        from .cache import invalidate
        invalidate(self)


type Pair = tuple[int, int]
''', [
    ("helper", "function", 10, 11, "def helper(x):", "", ""),
    ("Item", "class", 14, 36, "@dataclass(frozen=True)\nclass Item(Base):",
     "One stock item.\n\nHolds a name.", ""),
    ("Meta", "class", 23, 24, "class Meta:", "", "Item"),
    ("label", "method", 26, 31, "@property\ndef label(self) -> str:", "The label.", "Item"),
    ("refresh", "method", 33, 36,
     "async def refresh(self,\n                  force: bool = False) -> None:", "", "Item"),
    ("Pair", "type", 39, 39, "type Pair = tuple[int, int]", "", ""),
], [
    ("os.path", (), "", 4),
    ("numpy", (), "np", 5),
    ("json", (), "", 5),
    (".store", (("Store", "Store"), ("load", "load_store")), "", 6),
    ("..util", (("*", "*"),), "", 7),
    (".cache", (("invalidate", "invalidate"),), "", 35),
])

JAVASCRIPT = Case("javascript", "web/app.js", """\
import React, { useState as useLocalState, useEffect } from 'react';
import * as utils from './utils.js';
import './styles.css';
export { format } from './format';
const path = require('path');
const { readFile, writeFile: save } = require('fs/promises');

/**
 * Adds two numbers.
 */
export function add(a, b) {
  return a + b;
}

// Doubles.
export const double = (x) => x * 2;

const handler = async function (event) {
  function local() {}
  return local(event);
};

export default class Counter extends React.Component {
  // Increments.
  increment() {
    this.setState({ n: this.state.n + 1 });
  }

  static create(props) {
    return new Counter(props);
  }

  onClick = () => {
    this.increment();
  };
}

module.exports.legacy = function legacy() {};
""", [
    ("add", "function", 11, 13, "export function add(a, b)",
     "/**\n * Adds two numbers.\n */", ""),
    ("double", "function", 16, 16, "export const double = (x) =>", "// Doubles.", ""),
    ("handler", "function", 18, 21, "const handler = async function (event)", "", ""),
    ("Counter", "class", 23, 36, "export default class Counter extends React.Component", "", ""),
    ("increment", "method", 25, 27, "increment()", "// Increments.", "Counter"),
    ("create", "method", 29, 31, "static create(props)", "", "Counter"),
    ("onClick", "method", 33, 35, "onClick = () =>", "", "Counter"),
    ("legacy", "function", 38, 38, "module.exports.legacy = function legacy()", "", ""),
], [
    ("react", (("default", "React"), ("useState", "useLocalState"), ("useEffect", "useEffect")),
     "", 1),
    ("./utils.js", (), "utils", 2),
    ("./styles.css", (), "", 3),
    ("./format", (("format", "format"),), "", 4),
    ("path", (), "path", 5),
    ("fs/promises", (("readFile", "readFile"), ("writeFile", "save")), "", 6),
])

TYPESCRIPT = Case("typescript", "src/service.ts", """\
import type { Request } from "express";
import fs = require("fs");
import { Injectable } from "@angular/core";

/** A shape with an area. */
export interface Shape {
  area(): number;
  readonly name: string;
}

export type Pair<T> = [T, T];

enum Color {
  Red,
  Green,
}

@Injectable()
export class Service<T> implements Shape {
  readonly name = "svc";

  constructor(private readonly repo: Repo<T>) {}

  area(): number;
  area(scale?: number): number {
    return 1;
  }

  handle = async (req: Request): Promise<void> => {
    await this.repo.save(req);
  };
}

export const toPair = <T,>(x: T): Pair<T> => [x, x];

declare function legacy(x: number): string;

export namespace Geometry {
  export function origin(): Pair<number> {
    return [0, 0];
  }
}
""", [
    ("Shape", "interface", 6, 9, "export interface Shape", "/** A shape with an area. */", ""),
    ("area", "method", 7, 7, "area(): number", "", "Shape"),
    ("Pair", "type", 11, 11, "export type Pair<T> = [T, T]", "", ""),
    ("Color", "enum", 13, 16, "enum Color", "", ""),
    ("Service", "class", 18, 32, "@Injectable()\nexport class Service<T> implements Shape", "", ""),
    ("constructor", "method", 22, 22, "constructor(private readonly repo: Repo<T>)", "",
     "Service"),
    ("area", "method", 24, 24, "area(): number", "", "Service"),
    ("area", "method", 25, 27, "area(scale?: number): number", "", "Service"),
    ("handle", "method", 29, 31, "handle = async (req: Request): Promise<void> =>", "",
     "Service"),
    ("toPair", "function", 34, 34, "export const toPair = <T,>(x: T): Pair<T> =>", "", ""),
    ("legacy", "function", 36, 36, "declare function legacy(x: number): string", "", ""),
    ("origin", "function", 39, 41, "export function origin(): Pair<number>", "", "Geometry"),
], [
    ("express", (("Request", "Request"),), "", 1),
    ("fs", (), "fs", 2),
    ("@angular/core", (("Injectable", "Injectable"),), "", 3),
])

TSX = Case("tsx", "src/Greeting.tsx", """\
import React from "react";
import { Button } from "./Button";

type Props = { label: string };

// Greets someone.
export function Greeting({ label }: Props) {
  return <Button kind="primary">{label}</Button>;
}

export const App = (): JSX.Element => (
  <div>
    <Greeting label="hi" />
  </div>
);
""", [
    ("Props", "type", 4, 4, "type Props = { label: string }", "", ""),
    ("Greeting", "function", 7, 9, "export function Greeting({ label }: Props)",
     "// Greets someone.", ""),
    ("App", "function", 11, 15, "export const App = (): JSX.Element =>", "", ""),
], [
    ("react", (("default", "React"),), "", 1),
    ("./Button", (("Button", "Button"),), "", 2),
])

GO = Case("go", "store/store.go", """\
package store

import (
    "context"
    sq "github.com/Masterminds/squirrel"
    _ "github.com/lib/pq"
)

import "fmt"

// Store keeps items.
// It is safe for concurrent use.
type Store struct {
    db *sql.DB
}

type (
    // ID identifies an item.
    ID int64
    Getter interface {
        Get(ctx context.Context, id ID) (*Item, error)
    }
)

type Alias = Store

// New opens a store.
func New(dsn string) (*Store, error) {
    return &Store{}, nil
}

func (s *Store) Get(ctx context.Context,
    id ID) (*Item, error) {
    return nil, fmt.Errorf("missing %d", id)
}

func (l List[T]) Len() int { return len(l) }
""", [
    ("Store", "struct", 13, 15, "type Store struct",
     "// Store keeps items.\n// It is safe for concurrent use.", ""),
    ("ID", "type", 19, 19, "ID int64", "// ID identifies an item.", ""),
    ("Getter", "interface", 20, 22, "Getter interface", "", ""),
    ("Get", "method", 21, 21, "Get(ctx context.Context, id ID) (*Item, error)", "", "Getter"),
    ("Alias", "type", 25, 25, "type Alias = Store", "", ""),
    ("New", "function", 28, 30, "func New(dsn string) (*Store, error)", "// New opens a store.",
     ""),
    ("Get", "method", 32, 35, "func (s *Store) Get(ctx context.Context,\n    id ID) (*Item, error)",
     "", "Store"),
    ("Len", "method", 37, 37, "func (l List[T]) Len() int", "", "List"),
], [
    ("context", (), "", 4),
    ("github.com/Masterminds/squirrel", (), "sq", 5),
    ("github.com/lib/pq", (), "_", 6),
    ("fmt", (), "", 9),
])

RUST = Case("rust", "src/cache.rs", """\
use std::collections::HashMap;
use std::io::{self, Write as IoWrite};
use crate::store::{cache::Entry, *};
use serde;

mod tests;

/// A bounded cache.
/// Evicts the oldest entry.
#[derive(Debug, Clone)]
pub struct Cache<K, V> {
    map: HashMap<K, V>,
}

pub trait Evict {
    /// Drops one entry.
    fn evict(&mut self) -> bool;
}

impl<K: Eq, V> Cache<K, V> {
    pub fn new() -> Self {
        Cache { map: HashMap::new() }
    }
}

impl<K, V> Evict for Cache<K, V> {
    fn evict(&mut self) -> bool {
        fn helper() {}
        false
    }
}

pub enum Policy {
    Lru,
    Fifo,
}

pub type Shared<K, V> = std::sync::Arc<Cache<K, V>>;

macro_rules! cache {
    () => { Cache::new() };
}

pub fn build(n: usize)
    -> Cache<String, u8> {
    use std::iter::repeat;
    Cache::new()
}
""", [
    ("Cache", "struct", 10, 13, "#[derive(Debug, Clone)]\npub struct Cache<K, V>",
     "/// A bounded cache.\n/// Evicts the oldest entry.", ""),
    ("Evict", "trait", 15, 18, "pub trait Evict", "", ""),
    ("evict", "method", 17, 17, "fn evict(&mut self) -> bool", "/// Drops one entry.", "Evict"),
    ("new", "method", 21, 23, "pub fn new() -> Self", "", "Cache"),
    ("evict", "method", 27, 30, "fn evict(&mut self) -> bool", "", "Cache"),
    ("Policy", "enum", 33, 36, "pub enum Policy", "", ""),
    ("Shared", "type", 38, 38, "pub type Shared<K, V> = std::sync::Arc<Cache<K, V>>", "", ""),
    ("cache", "macro", 40, 42, "macro_rules! cache", "", ""),
    ("build", "function", 44, 48, "pub fn build(n: usize)\n    -> Cache<String, u8>", "", ""),
], [
    ("std::collections", (("HashMap", "HashMap"),), "", 1),
    ("std::io", (("self", "io"), ("Write", "IoWrite")), "", 2),
    ("crate::store::cache", (("Entry", "Entry"),), "", 3),
    ("crate::store", (("*", "*"),), "", 3),
    ("serde", (), "", 4),
    ("tests", (), "", 6),
    ("std::iter", (("repeat", "repeat"),), "", 46),
])

JAVA = Case("java", "src/com/acme/store/Repo.java", """\
package com.acme.store;

import java.util.List;
import java.util.concurrent.*;
import static java.util.Objects.requireNonNull;

/**
 * Stores items.
 */
@Service
public class Repo<T extends Item> implements Store<T> {
    private final List<T> items;

    /** Creates an empty repo. */
    public Repo() {
        this.items = new java.util.ArrayList<>();
    }

    @Override
    public Optional<T> find(String id)
            throws StoreException {
        return Optional.empty();
    }

    public interface Listener {
        void onChange(T item);
    }

    enum State {
        OPEN, CLOSED;

        boolean isOpen() { return this == OPEN; }
    }

    record Entry(String key, T value) {}
}
""", [
    ("Repo", "class", 10, 36, "@Service\npublic class Repo<T extends Item> implements Store<T>",
     "/**\n * Stores items.\n */", ""),
    ("Repo", "method", 15, 17, "public Repo()", "/** Creates an empty repo. */", "Repo"),
    ("find", "method", 19, 23,
     "@Override\npublic Optional<T> find(String id)\n        throws StoreException", "",
     "Repo"),
    ("Listener", "interface", 25, 27, "public interface Listener", "", "Repo"),
    ("onChange", "method", 26, 26, "void onChange(T item)", "", "Listener"),
    ("State", "enum", 29, 33, "enum State", "", "Repo"),
    ("isOpen", "method", 32, 32, "boolean isOpen()", "", "State"),
    ("Entry", "class", 35, 35, "record Entry(String key, T value)", "", "Repo"),
], [
    ("java.util", (("List", "List"),), "", 3),
    ("java.util.concurrent", (("*", "*"),), "", 4),
    ("java.util.Objects", (("requireNonNull", "requireNonNull"),), "", 5),
])

C = Case("c", "include/buf.h", """\
#ifndef BUF_H
#define BUF_H

#include <stddef.h>
#include "util/alloc.h"

#define BUF_MIN 64
#define BUF_MAX(a, b) \\
    ((a) > (b) ? (a) : (b))

/* A growable byte buffer. */
typedef struct buf {
    char *data;
    size_t len;
} buf_t;

typedef struct {
    int code;
} buf_error;

enum buf_mode { BUF_READ, BUF_WRITE };

typedef int (*buf_cb)(buf_t *b);

// Creates a buffer.
// Returns NULL on failure.
buf_t *buf_new(size_t cap);
void buf_free(buf_t *b);

static inline size_t buf_len(const buf_t *b)
{
    return b->len;
}

#endif
""", [
    ("BUF_H", "macro", 2, 2, "#define BUF_H", "", ""),
    ("BUF_MIN", "macro", 7, 7, "#define BUF_MIN 64", "", ""),
    ("BUF_MAX", "macro", 8, 9, "#define BUF_MAX(a, b)", "", ""),
    ("buf_t", "type", 12, 15, "typedef struct buf { … } buf_t", "/* A growable byte buffer. */",
     ""),
    ("buf", "struct", 12, 15, "struct buf", "/* A growable byte buffer. */", ""),
    ("buf_error", "struct", 17, 19, "typedef struct { … } buf_error", "", ""),
    ("buf_mode", "enum", 21, 21, "enum buf_mode", "", ""),
    ("buf_cb", "type", 23, 23, "typedef int (*buf_cb)(buf_t *b)", "", ""),
    ("buf_new", "function", 27, 27, "buf_t *buf_new(size_t cap)",
     "// Creates a buffer.\n// Returns NULL on failure.", ""),
    ("buf_free", "function", 28, 28, "void buf_free(buf_t *b)", "", ""),
    ("buf_len", "function", 30, 33, "static inline size_t buf_len(const buf_t *b)", "", ""),
], [
    ("stddef.h", (), "", 4),
    ("util/alloc.h", (), "", 5),
])

CPP = Case("cpp", "include/geo/shapes.hpp", """\
#pragma once
#include <memory>
#include "geo/point.hpp"

namespace geo {

// Base of all shapes.
class Shape {
public:
    explicit Shape(int sides);
    virtual ~Shape() = default;

    /// Area in square units.
    virtual double area() const = 0;
    double area(double scale) const { return area() * scale; }

    bool operator==(const Shape& other) const;

    struct Bounds {
        double w, h;
    };
};

template <typename T>
T clamp(T v, T lo, T hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

using ShapePtr = std::unique_ptr<Shape>;

enum class Kind { Circle, Square };

}  // namespace geo

double geo::Shape::area(double scale, int) const {
    return 0;
}
""", [
    ("Shape", "class", 8, 22, "class Shape", "// Base of all shapes.", "geo"),
    ("Shape", "method", 10, 10, "explicit Shape(int sides)", "", "Shape"),
    ("~Shape", "method", 11, 11, "virtual ~Shape() = default", "", "Shape"),
    ("area", "method", 14, 14, "virtual double area() const = 0", "/// Area in square units.",
     "Shape"),
    ("area", "method", 15, 15, "double area(double scale) const", "", "Shape"),
    ("operator==", "method", 17, 17, "bool operator==(const Shape& other) const", "", "Shape"),
    ("Bounds", "struct", 19, 21, "struct Bounds", "", "Shape"),
    ("clamp", "function", 24, 27, "template <typename T>\nT clamp(T v, T lo, T hi)", "", "geo"),
    ("ShapePtr", "type", 29, 29, "using ShapePtr = std::unique_ptr<Shape>", "", "geo"),
    ("Kind", "enum", 31, 31, "enum class Kind", "", "geo"),
    ("area", "method", 35, 37, "double geo::Shape::area(double scale, int) const", "", "Shape"),
], [
    ("memory", (), "", 2),
    ("geo/point.hpp", (), "", 3),
])

CASES = [PYTHON, JAVASCRIPT, TYPESCRIPT, TSX, GO, RUST, JAVA, C, CPP]
BY_LANGUAGE = {case.language: case for case in CASES}
KINDS = {"function", "method", "class", "struct", "interface", "trait", "enum", "type", "macro"}


def rows(definitions: tuple[Definition, ...]) -> list[Def]:
    return [(d.name, d.kind, d.start_line, d.end_line, d.signature, d.doc, d.parent)
            for d in definitions]


def import_rows(imports: tuple[Import, ...]) -> list[Imp]:
    return [(i.module, i.names, i.alias, i.line) for i in imports]


def check_sane(definitions: tuple[Definition, ...], imports: tuple[Import, ...], path: str,
               source: bytes) -> None:
    """What must hold for any input, however broken."""
    lines = source.count(b"\n") + 1
    for d in definitions:
        assert d.name
        assert d.kind in KINDS
        assert d.path == path
        assert 1 <= d.start_line <= d.end_line <= lines
    for i in imports:
        assert i.module
        assert 1 <= i.line <= lines


def test_every_grammar_has_a_case() -> None:
    assert sorted(BY_LANGUAGE) == sorted(g.name for g in GRAMMARS)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.language)
def test_definitions(case: Case) -> None:
    definitions, _ = extract(case.language, case.source.encode(), case.path)
    assert rows(definitions) == case.definitions
    assert {d.path for d in definitions} == {case.path}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.language)
def test_imports(case: Case) -> None:
    _, imports = extract(case.language, case.source.encode(), case.path)
    assert import_rows(imports) == case.imports


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.language)
def test_a_given_tree_is_used_as_is(case: Case) -> None:
    """The index passes its own (incrementally re-parsed) tree; extraction reads that tree
    rather than parsing again (the tree of an empty file gives nothing)."""
    source = case.source.encode()
    tree = parser_for(case.language).parse(source)
    assert extract(case.language, source, case.path, tree) == extract(case.language, source,
                                                                        case.path)
    empty_tree = parser_for(case.language).parse(b"")
    assert extract(case.language, source, case.path, empty_tree) == ((), ())


def test_incremental_reparse_gives_the_fresh_result() -> None:
    old = PYTHON.source.encode()
    insert_at = old.index(b"def helper")
    added = b"def first(y):\n    return y\n\n\n"
    new = old[:insert_at] + added + old[insert_at:]
    parser = parser_for("python")
    tree = parser.parse(old)
    row = old[:insert_at].count(b"\n")
    tree.edit(start_byte=insert_at, old_end_byte=insert_at, new_end_byte=insert_at + len(added),
              start_point=(row, 0), old_end_point=(row, 0),
              new_end_point=(row + added.count(b"\n"), 0))
    edited = parser.parse(new, tree)
    definitions, imports = extract("python", new, PYTHON.path, edited)
    assert (definitions, imports) == extract("python", new, PYTHON.path)
    assert rows(definitions)[0] == ("first", "function", 10, 11, "def first(y):", "", "")
    assert rows(definitions)[1][:4] == ("helper", "function", 14, 15)


# --- error recovery and odd input -----------------------------------------------------------

BROKEN = [
    ("python", "def ok(a):\n    return a\n\ndef broken(x:\n    pass\n\nclass After:\n"
     "    def m(self):\n        pass\n",
     [("ok", "function", 1, 2), ("After", "class", 7, 9), ("m", "method", 8, 9)]),
    ("javascript", "function ok() { return 1; }\nfunction broken( { \nclass After { m() {} }\n",
     [("ok", "function", 1, 1)]),
    ("typescript", "interface Ok { a(): void }\nconst x = (;\n"
     "export function after(): number { return 1; }\n",
     [("Ok", "interface", 1, 1), ("a", "method", 1, 1), ("after", "function", 3, 3)]),
    ("go", "package p\nfunc Ok() {}\nfunc Broken( {\n}\ntype After struct{}\n",
     [("Ok", "function", 2, 2), ("Broken", "function", 3, 4), ("After", "struct", 5, 5)]),
    ("rust", "fn ok() {}\nfn broken( {\n}\nstruct After;\n",
     [("ok", "function", 1, 1), ("broken", "function", 2, 3), ("After", "struct", 4, 4)]),
    ("java", "class A {\n  void ok() {}\n  void broken( {\n  }\n  int after() { return 1; }\n}\n",
     [("A", "class", 1, 6), ("ok", "method", 2, 2), ("broken", "method", 3, 4),
      ("after", "method", 5, 5)]),
    ("c", "int ok(void) { return 0; }\nint broken(;\nstruct after { int x; };\n",
     [("ok", "function", 1, 1), ("broken", "function", 2, 2), ("after", "struct", 3, 3)]),
    ("cpp", "class A {\n  int ok();\n  int broken(;\n};\nvoid after() {}\n",
     [("A", "class", 1, 4), ("ok", "method", 2, 2), ("broken", "method", 3, 3),
      ("after", "function", 5, 5)]),
]


@pytest.mark.parametrize(("language", "source", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_syntax_errors_keep_what_tree_sitter_recovered(language: str, source: str,
                                                       expected: list[tuple[str, str, int, int]],
                                                       ) -> None:
    definitions, _ = extract(language, source.encode(), "broken")
    assert [(d.name, d.kind, d.start_line, d.end_line) for d in definitions] == expected


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.language)
def test_every_truncation_of_a_file_extracts_without_error(case: Case) -> None:
    """A file being typed is mostly broken code: extraction never raises, and what it returns
    stays within the text."""
    source = case.source.encode()
    for cut in range(0, len(source) + 1, 3):
        head = source[:cut]
        definitions, imports = extract(case.language, head, case.path)
        check_sane(definitions, imports, case.path, head)


@pytest.mark.parametrize("language", sorted(BY_NAME))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_damage_never_raises(language: str, data: st.DataObject) -> None:
    source = BY_LANGUAGE[language].source.encode()
    start = data.draw(st.integers(0, len(source)))
    end = data.draw(st.integers(start, min(len(source), start + 40)))
    junk = data.draw(st.binary(max_size=20))
    damaged = source[:start] + junk + source[end:]
    definitions, imports = extract(language, damaged, "damaged")
    check_sane(definitions, imports, "damaged", damaged)


@pytest.mark.parametrize("language", sorted(BY_NAME))
def test_an_empty_file_has_no_symbols(language: str) -> None:
    assert extract(language, b"", "empty") == ((), ())


def test_non_utf8_bytes_are_replaced_not_fatal() -> None:
    source = b'def caf\xe9(x):\n    """R\xe9sum\xe9."""\n    return x\n\nclass Ok:\n    pass\n'
    definitions, _ = extract("python", source, "latin1.py")
    assert rows(definitions) == [
        ("caf", "function", 1, 3, "def caf\ufffd(x):", "R\ufffdsum\ufffd.", ""),
        ("Ok", "class", 5, 6, "class Ok:", "", ""),
    ]


def test_an_unknown_language_gives_nothing() -> None:
    assert extract("cobol", b"IDENTIFICATION DIVISION.", "x.cob") == ((), ())


# --- what else is extracted, and what is not --------------------------------------------------

def test_python_definitions_in_module_level_blocks_are_found_and_local_ones_are_not() -> None:
    source = b"""\
try:
    from fast import speedup
except ImportError:
    def speedup(f):
        return f

if TYPE_CHECKING:
    class Proto:
        def run(self): ...

def outer():
    class Local:
        def method(self): ...
    def nested(): ...
    return Local
"""
    definitions, imports = extract("python", source, "m.py")
    assert [(d.name, d.kind, d.parent) for d in definitions] == [
        ("speedup", "function", ""), ("Proto", "class", ""), ("run", "method", "Proto"),
        ("outer", "function", "")]
    assert import_rows(imports) == [("fast", (("speedup", "speedup"),), "", 2)]


def test_javascript_iife_and_amd_bodies_are_top_level() -> None:
    source = b"""\
(function () {
  function inIife() {}
})();
define(['dep'], function (dep) {
  function inAmd() {}
});
describe('x', () => {
  function inCallback() {}
});
"""
    definitions, _ = extract("javascript", source, "lib.js")
    assert [(d.name, d.start_line) for d in definitions] == [("inIife", 2), ("inAmd", 5)]


def test_typescript_modules_and_declare_global() -> None:
    source = b"""\
module Legacy { export function f(): void {} }
declare module "pkg" { export function g(): void; }
declare global { interface Window { app: string } }
"""
    definitions, _ = extract("typescript", source, "types.d.ts")
    assert [(d.name, d.kind, d.start_line, d.parent) for d in definitions] == [
        ("f", "function", 1, "Legacy"), ("g", "function", 2, "pkg"),
        ("Window", "interface", 3, "")]


def test_cpp_namespaces_friends_and_template_specialisations() -> None:
    source = b"""\
namespace a::b {
template <> struct Traits<int> {
  static int size();
  friend bool operator<(const Traits&, const Traits&);
};
}
int a::b::Traits<int> :: size() { return 4; }
"""
    definitions, _ = extract("cpp", source, "t.hpp")
    assert [(d.name, d.kind, d.parent) for d in definitions] == [
        ("Traits", "struct", "a::b"), ("size", "method", "Traits"),
        ("operator<", "method", "Traits"), ("size", "method", "Traits")]


def test_doc_comments_are_the_own_line_block_right_above() -> None:
    source = b"""\
int x; /* trailing */
int a(void);

/* detached */

int b(void);
/*
   multi
     indented
*/
int c(void);
    // indented one
    //   two
    int d(void);
/* one */ /* two */
int e(void);
"""
    definitions, _ = extract("c", source, "docs.h")
    assert [(d.name, d.doc) for d in definitions] == [
        ("a", ""), ("b", ""), ("c", "/*\n   multi\n     indented\n*/"),
        ("d", "// indented one\n//   two"), ("e", "")]


# --- languages ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("path", "language"), [
    ("src/app.py", "python"), ("stubs/os.PYI", "python"), ("web/main.mjs", "javascript"),
    ("web/App.jsx", "javascript"), ("types/index.d.ts", "typescript"), ("ui/App.tsx", "tsx"),
    ("cmd/main.go", "go"), ("src/lib.rs", "rust"), ("src/A.java", "java"), ("lib/x.c", "c"),
    ("include/x.h", "c"), ("src/x.cc", "cpp"), ("include/x.hpp", "cpp"),
    ("README.md", None), ("Makefile", None), ("notes.txt", None), ("archive.tar.gz", None),
])
def test_language_for_path(path: str, language: str | None) -> None:
    assert language_for_path(path) == language


@pytest.mark.parametrize(("path", "source", "language"), [
    ("x.h", b"#include <stdio.h>\nint f(void);\n", "c"),
    ("x.h", b"#pragma once\nnamespace geo {\nint f();\n}\n", "cpp"),
    ("x.h", b"template <typename T>\nT f(T);\n", "cpp"),
    ("x.h", b"class A {\npublic:\n  int f();\n};\n", "cpp"),
    ("x.h", b"/* the namespace with <stddef.h> */\nint f(void);\n", "c"),
    ("x.c", b"namespace geo {\n}\n", "c"),
    ("x.txt", b"namespace geo {\n}\n", None),
])
def test_language_for_source_tells_cpp_headers_from_c(path: str, source: bytes,
                                                      language: str | None) -> None:
    assert language_for_source(path, source) == language


def test_comment_prefixes() -> None:
    assert {g.name: g.comment for g in GRAMMARS} == {
        "python": "#", "javascript": "//", "typescript": "//", "tsx": "//", "go": "//",
        "rust": "//", "java": "//", "c": "//", "cpp": "//"}


def test_queries_compile_once_and_parsers_are_per_thread() -> None:
    for grammar in GRAMMARS:
        assert query_for(grammar.name) is query_for(grammar.name)
    assert parser_for("go") is parser_for("go")
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(parser_for("go")))
    thread.start()
    thread.join()
    assert len(other) == 1
    assert other[0] is not parser_for("go")


# --- symbols_for -------------------------------------------------------------------------------

def test_symbols_for_a_source_file() -> None:
    source = GO.source.encode()
    symbols = symbols_for(GO.path, source, mtime_ns=123, size=len(source))
    assert symbols.language == "go"
    assert rows(symbols.definitions) == GO.definitions
    assert import_rows(symbols.imports) == GO.imports
    assert (symbols.mtime_ns, symbols.size) == (123, len(source))


def test_symbols_for_a_file_without_grammar() -> None:
    symbols = symbols_for("docs/notes.txt", b"def looks_like_python(): pass\n", size=30)
    assert (symbols.language, symbols.definitions, symbols.imports) == ("", (), ())
    assert symbols.size == 30


def test_symbols_for_a_cpp_header_named_h() -> None:
    symbols = symbols_for("geo.h", b"namespace geo {\nclass Shape {};\n}\n")
    assert symbols.language == "cpp"
    assert rows(symbols.definitions) == [("Shape", "class", 2, 2, "class Shape", "", "geo")]
