"""Tree-sitter grammars, one official wheel per language, loaded offline and only when needed.

Each grammar carries one tree-sitter query that finds what `extract.py` needs: definitions, the
scopes that give them a parent, doc comments, imports, and the containers to look into next.
The query is data; `extract.py` is the one interpreter of its capture names:

- `@container` a node whose direct children may hold definitions or imports (a module's
  top-level blocks, class bodies, namespace and impl bodies, `export`, decorators, `#if`). The
  query runs on the root with a start depth of 1 (patterns starting at the root or at its
  direct children), then again on each container it captured, and so on. Function bodies are
  not containers: what is defined in them is local, and not walking them is what makes
  extraction cheap next to parsing (most of a tree's nodes are inside function bodies). The
  exceptions are JS function bodies that are the module (an IIFE, an AMD `define` factory).
  `ERROR` nodes are containers, so definitions inside a broken region are still found.
- `@definition.KIND` the whole definition (KIND: function, method, class, struct, interface,
  trait, enum, type, macro). A `function` nested directly in a class-like definition (class,
  struct, interface, trait, enum, impl) becomes a `method`.
- `@scope.impl` / `@scope.namespace` a node that is not a definition itself but names the parent
  of the definitions inside (Rust `impl` and inline `mod`, C++ `namespace`, TS `namespace`);
  `impl` makes functions methods, `namespace` does not.
- `@name` the name of the definition or scope. A C++ name written `A::f` gives parent `A`.
- `@body` the signature ends where this node starts; `@colon` the signature ends after it
  (Python). With neither, the signature is the whole definition. A `@name` written after the
  body (C `typedef struct {...} T;`) keeps the text after the body: `typedef struct { … } T`.
  `@tag` marks a typedef's struct that has a name of its own.
- `@parent` the parent's name when the syntax states it (a Go method's receiver type).
- `@doc` the docstring literal (Python).
- `@wrapper` + `@wrapped` a node whose range extends the definition it wraps (Python
  decorators, JS/TS `export`, TS `declare`, C++ `template <...>`, a Go `type` keyword).
- `@attribute` (Rust `#[...]`) lines right above a definition extend its range and may sit
  between the definition and its doc comment. (Doc comments are not captured: `extract.py`
  reads the `//` and `/* */` lines above each definition it keeps, which is cheaper than a
  match per comment in comment-heavy code.)
- `@import` one import statement (or `require` call); the imports found in it by
  `@import.module` (module as written), `@import.name` + optional `@import.alias` (a name taken
  from the module and its local name), `@import.alias` alone (the module's local name),
  `@import.default` (JS default import), `@import.star` (wildcard), `@import.system`
  (C `<x.h>`), `@import.path` (Java `a.b.C`: module `a.b`, name `C`) and `@import.rust`
  (a Rust use tree, unfolded by `extract.py`).
- captures starting with `_` only feed predicates.
"""

from __future__ import annotations

import importlib
import os
import re
import threading
from dataclasses import dataclass
from functools import cache

from tree_sitter import Language, Parser, Query


@dataclass(frozen=True)
class Grammar:
    name: str
    module: str  # the grammar wheel's module
    function: str  # the function in it that returns the language pointer
    extensions: tuple[str, ...]
    comment: str = "//"  # the line-comment prefix, for path/line headers in prompts
    query: str = ""  # definitions, scopes, containers and imports (see the module docstring)
    keywords: frozenset[str] = frozenset()  # words `identifiers()` leaves out
    # How indented import statements begin (Python's lazy imports inside functions): the walk
    # over containers never enters function bodies, so these are found in the text. The last
    # one must occur in every such line.
    nested_imports: tuple[bytes, ...] = ()


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# --- Python ------------------------------------------------------------------------------------

PYTHON_QUERY = r"""
(function_definition
  name: (identifier) @name
  ":" @colon
  body: (block . (expression_statement . (string) @doc)?)) @definition.function
(class_definition
  name: (identifier) @name
  ":" @colon
  body: (block . (expression_statement . (string) @doc)?) @container) @definition.class
(class_definition name: (identifier) @name ":" @colon (ERROR) @container) @definition.class
(type_alias_statement left: (type (identifier) @name)) @definition.type
(decorated_definition definition: (_) @wrapped) @wrapper @container
[(block) (if_statement) (elif_clause) (else_clause) (try_statement) (except_clause)
 (finally_clause) (with_statement) (for_statement) (while_statement) (ERROR)] @container

(import_statement name: (dotted_name) @import.module) @import
(import_statement
  name: (aliased_import name: (dotted_name) @import.module alias: (identifier) @import.alias))
  @import
(import_from_statement module_name: (_) @import.module) @import
(import_from_statement module_name: (_) @import.module name: (dotted_name) @import.name) @import
(import_from_statement
  module_name: (_) @import.module
  name: (aliased_import name: (dotted_name) @import.name alias: (identifier) @import.alias))
  @import
(import_from_statement module_name: (_) @import.module (wildcard_import) @import.star) @import
"""

PYTHON_KEYWORDS = _words("""
False None True and as assert async await break class continue def del elif else except
finally for from global if import in is lambda nonlocal not or pass raise return try while
with yield
""")

# --- JavaScript / TypeScript -------------------------------------------------------------------

_FUNCTION_VALUE = """[
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
    (generator_function body: (_) @body)]"""

_CLASS_VALUE = "(class body: (class_body) @body @container)"

_REQUIRE = """(call_expression
    function: (identifier) @_require
    arguments: (arguments . (string (string_fragment) @import.module) .)) @import
  (#eq? @_require "require")"""

_JS_COMMON_QUERY = rf"""
(function_declaration name: (identifier) @name body: (statement_block) @body)
  @definition.function
(generator_function_declaration name: (identifier) @name body: (statement_block) @body)
  @definition.function
(class_declaration name: (_) @name body: (class_body) @body @container) @definition.class
(class_body (method_definition name: (_) @name body: (statement_block) @body)
  @definition.function)
[(lexical_declaration (variable_declarator name: (identifier) @name value: {_FUNCTION_VALUE}))
 (variable_declaration (variable_declarator name: (identifier) @name value: {_FUNCTION_VALUE}))]
  @definition.function
[(lexical_declaration (variable_declarator name: (identifier) @name value: {_CLASS_VALUE}))
 (variable_declaration (variable_declarator name: (identifier) @name value: {_CLASS_VALUE}))]
  @definition.class
(expression_statement (assignment_expression
  left: (member_expression property: (property_identifier) @name)
  right: [(function_expression body: (_) @body) (arrow_function body: (_) @body)])
  (#not-eq? @name "exports")) @definition.function
(export_statement declaration: (_) @wrapped) @wrapper @container
(expression_statement (call_expression
  function: (parenthesized_expression [
    (function_expression body: (statement_block) @container)
    (arrow_function body: (statement_block) @container)])))
(expression_statement (call_expression
  function: (identifier) @_define
  arguments: (arguments [
    (function_expression body: (statement_block) @container)
    (arrow_function body: (statement_block) @container)])
  (#eq? @_define "define")))
(ERROR) @container

(import_statement source: (string (string_fragment) @import.module)) @import
(import_statement
  (import_clause (identifier) @import.default)
  source: (string (string_fragment) @import.module)) @import
(import_statement
  (import_clause (namespace_import (identifier) @import.alias))
  source: (string (string_fragment) @import.module)) @import
(import_statement
  (import_clause
    (named_imports (import_specifier name: (_) @import.name alias: (_)? @import.alias)))
  source: (string (string_fragment) @import.module)) @import
(export_statement source: (string (string_fragment) @import.module)) @import
(export_statement
  (export_clause (export_specifier name: (_) @import.name alias: (_)? @import.alias))
  source: (string (string_fragment) @import.module)) @import
[(lexical_declaration (variable_declarator name: (identifier) @import.alias value: {_REQUIRE}))
 (variable_declaration (variable_declarator name: (identifier) @import.alias value: {_REQUIRE}))]
[(lexical_declaration (variable_declarator
   name: (object_pattern [
     (shorthand_property_identifier_pattern) @import.name
     (pair_pattern key: (property_identifier) @import.name value: (identifier) @import.alias)])
   value: {_REQUIRE}))
 (variable_declaration (variable_declarator
   name: (object_pattern [
     (shorthand_property_identifier_pattern) @import.name
     (pair_pattern key: (property_identifier) @import.name value: (identifier) @import.alias)])
   value: {_REQUIRE}))]
(expression_statement {_REQUIRE})
"""

JAVASCRIPT_QUERY = _JS_COMMON_QUERY + rf"""
(class_body (field_definition property: (_) @name value: {_FUNCTION_VALUE})
  @definition.function)
"""

TYPESCRIPT_QUERY = _JS_COMMON_QUERY + rf"""
(class_body (public_field_definition name: (_) @name value: {_FUNCTION_VALUE})
  @definition.function)
(class_body (method_signature name: (_) @name) @definition.function)
(class_body (abstract_method_signature name: (_) @name) @definition.function)
(interface_body (method_signature name: (_) @name) @definition.function)
(function_signature name: (identifier) @name) @definition.function
(abstract_class_declaration name: (type_identifier) @name body: (class_body) @body @container)
  @definition.class
(interface_declaration name: (type_identifier) @name body: (interface_body) @body @container)
  @definition.interface
(type_alias_declaration name: (type_identifier) @name) @definition.type
(enum_declaration name: (identifier) @name body: (enum_body) @body) @definition.enum
(internal_module name: (_) @name body: (statement_block) @container) @scope.namespace
(expression_statement
  (internal_module name: (_) @name body: (statement_block) @container) @scope.namespace)
(module
  name: [(identifier) @name (string (string_fragment) @name)]
  body: (statement_block) @container) @scope.namespace
(ambient_declaration (_) @wrapped) @wrapper @container
(ambient_declaration (statement_block) @container)

(import_statement
  (import_require_clause
    (identifier) @import.alias
    source: (string (string_fragment) @import.module))) @import
"""

JAVASCRIPT_KEYWORDS = _words("""
async await break case catch class const continue debugger default delete do else export
extends false finally for from function if import in instanceof let new null of return static
super switch this throw true try typeof var void while with yield
""")

TYPESCRIPT_KEYWORDS = JAVASCRIPT_KEYWORDS | _words("""
abstract as declare enum implements interface keyof namespace private protected public readonly
type
""")

# --- Go ----------------------------------------------------------------------------------------

_GO_RECEIVER = """[
    (type_identifier) @parent
    (pointer_type (type_identifier) @parent)
    (generic_type type: (type_identifier) @parent)
    (pointer_type (generic_type type: (type_identifier) @parent))]"""

GO_QUERY = rf"""
(function_declaration name: (identifier) @name body: (block)? @body) @definition.function
(method_declaration
  receiver: (parameter_list (parameter_declaration type: {_GO_RECEIVER}))
  name: (field_identifier) @name
  body: (block)? @body) @definition.method
(type_spec name: (type_identifier) @name type: (struct_type (field_declaration_list) @body))
  @definition.struct
(type_spec name: (type_identifier) @name type: (interface_type "{{" @body) @container)
  @definition.interface
(type_spec
  name: (type_identifier) @name
  type: [(type_identifier) (qualified_type) (generic_type) (pointer_type) (slice_type)
         (array_type) (map_type) (channel_type) (function_type) (negated_type)])
  @definition.type
(type_alias name: (type_identifier) @name) @definition.type
(method_elem name: (field_identifier) @name) @definition.method
(type_declaration . [(type_spec) (type_alias)] @wrapped .) @wrapper
[(type_declaration) (import_declaration) (import_spec_list) (ERROR)] @container

(import_spec
  name: (_)? @import.alias
  path: (interpreted_string_literal (interpreted_string_literal_content) @import.module)) @import
"""

GO_KEYWORDS = _words("""
break case chan const continue default defer else fallthrough false for func go goto if import
interface map nil package range return select struct switch true type var
""")

# --- Rust --------------------------------------------------------------------------------------

RUST_QUERY = r"""
(function_item name: (identifier) @name body: (block) @body) @definition.function
(function_signature_item name: (identifier) @name) @definition.function
(struct_item name: (type_identifier) @name body: (field_declaration_list)? @body) @definition.struct
(union_item name: (type_identifier) @name body: (field_declaration_list) @body) @definition.struct
(enum_item name: (type_identifier) @name body: (enum_variant_list) @body) @definition.enum
(trait_item name: (type_identifier) @name body: (declaration_list) @body @container)
  @definition.trait
(type_item name: (type_identifier) @name) @definition.type
(macro_definition name: (identifier) @name ["{" "(" "["] @body) @definition.macro
(impl_item
  type: [
    (type_identifier) @name
    (generic_type type: (type_identifier) @name)
    (generic_type type: (scoped_type_identifier name: (type_identifier) @name))
    (scoped_type_identifier name: (type_identifier) @name)
    (reference_type type: (type_identifier) @name)]
  body: (declaration_list) @container) @scope.impl
(mod_item name: (identifier) @name body: (declaration_list) @container) @scope.namespace
(ERROR) @container
(attribute_item) @attribute

(use_declaration argument: (_) @import.rust) @import
(mod_item name: (identifier) @import.module !body) @import
(extern_crate_declaration name: (identifier) @import.module alias: (identifier)? @import.alias)
  @import
"""

RUST_KEYWORDS = _words("""
as async await break const continue crate dyn else enum extern false fn for if impl in let loop
match mod move mut pub ref return self Self static struct super trait true type unsafe use where
while
""")

# --- Java --------------------------------------------------------------------------------------

JAVA_QUERY = r"""
(class_declaration name: (identifier) @name body: (class_body) @body @container)
  @definition.class
(record_declaration name: (identifier) @name body: (class_body) @body @container)
  @definition.class
(interface_declaration name: (identifier) @name body: (interface_body) @body @container)
  @definition.interface
(annotation_type_declaration
  name: (identifier) @name body: (annotation_type_body) @body @container) @definition.interface
(enum_declaration name: (identifier) @name body: (enum_body) @body @container) @definition.enum
(enum_body (enum_body_declarations) @container)
(method_declaration name: (identifier) @name body: (block)? @body) @definition.function
(constructor_declaration name: (identifier) @name body: (constructor_body) @body)
  @definition.function
(ERROR) @container

(import_declaration [(identifier) (scoped_identifier)] @import.path (asterisk)? @import.star)
  @import
"""

JAVA_KEYWORDS = _words("""
abstract assert boolean break byte case catch char class const continue default do double else
enum extends false final finally float for goto if implements import instanceof int interface
long native new null package private protected public return short static strictfp super switch
synchronized this throw throws transient true try void volatile while
""")

# --- C / C++ -----------------------------------------------------------------------------------


def _function_declarator(names: str, *, references: bool) -> str:
    """A function declarator named by one of `names`, possibly under one or two pointer levels
    (C++: or a reference) for the return type: `f(x)`, `*f(x)`, `**f(x)`, `&f(x)`."""
    fn = f"(function_declarator declarator: {names} @name)"
    alternatives = [fn, f"(pointer_declarator declarator: {fn})",
                    f"(pointer_declarator declarator: (pointer_declarator declarator: {fn}))"]
    if references:
        alternatives.append(f"(reference_declarator {fn})")
    return "[" + " ".join(alternatives) + "]"


_C_FUNCTION = _function_declarator("(identifier)", references=False)
_CPP_FUNCTION = _function_declarator(
    "[(identifier) (field_identifier) (qualified_identifier) (destructor_name) (operator_name)]",
    references=True)

_TYPEDEF_NAME = """[
    (type_identifier) @name
    (pointer_declarator declarator: (type_identifier) @name)
    (function_declarator declarator: (parenthesized_declarator (pointer_declarator
      declarator: (type_identifier) @name)))]"""


def _typed(pattern: str) -> str:
    """`pattern` as the type of a declaration, typedef or field: `struct S {...} s;`."""
    return "[" + " ".join(f"({parent} type: {pattern})" for parent in
                          ("declaration", "type_definition", "field_declaration")) + "]"


def _record(node: str, names: str, body: str = "field_declaration_list") -> str:
    """A named struct, union, enum or class with a body; the body is a container (C++ methods,
    C `#define`s written between the fields)."""
    return f"({node} name: {names} @name body: ({body}) @body @container)"


def _c_common_query(names: str, misparsed: str) -> str:
    """What C and C++ share; `names` is how a struct, union or enum may be named. A "function"
    whose declarator is `misparsed` (no parameter list) is how tree-sitter reads a macro in
    front of a block (`_GLIBCXX_BEGIN_NAMESPACE_VERSION namespace chrono {...}`): its body is
    a container."""
    struct = _record("struct_specifier", names)
    union = _record("union_specifier", names)
    enum = _record("enum_specifier", names, "enumerator_list")
    return rf"""
{struct} @definition.struct
{union} @definition.struct
{enum} @definition.enum
{_typed(struct + " @definition.struct")}
{_typed(union + " @definition.struct")}
{_typed(enum + " @definition.enum")}
(type_definition
  type: [
    (struct_specifier name: (_)? @tag body: (_) @body @container)
    (union_specifier name: (_)? @tag body: (_) @body @container)
    (enum_specifier name: (_)? @tag body: (_) @body @container)]?
  declarator: {_TYPEDEF_NAME}) @definition.type
(preproc_def name: (identifier) @name) @definition.macro
(preproc_function_def name: (identifier) @name value: (preproc_arg)? @body) @definition.macro
(linkage_specification body: (declaration_list) @container)
(function_definition declarator: {misparsed} body: (compound_statement) @container)
[(preproc_if) (preproc_ifdef) (preproc_else) (preproc_elif) (preproc_elifdef) (ERROR)]
  @container

(preproc_include path: (string_literal (string_content) @import.module)) @import
(preproc_include path: (system_lib_string) @import.system) @import
"""


_CPP_NAMES = "[(type_identifier) (qualified_identifier) (template_type)]"
_CPP_CLASS = _record("class_specifier", _CPP_NAMES)

C_QUERY = _c_common_query("(type_identifier)", "(identifier)") + rf"""
(function_definition declarator: {_C_FUNCTION} body: (compound_statement) @body)
  @definition.function
(declaration declarator: {_C_FUNCTION}) @definition.function
"""

CPP_QUERY = _c_common_query(_CPP_NAMES, "[(identifier) (qualified_identifier)]") + rf"""
(function_definition declarator: {_CPP_FUNCTION} body: (_)? @body) @definition.function
(declaration declarator: {_CPP_FUNCTION}) @definition.function
(field_declaration declarator: {_CPP_FUNCTION}) @definition.function
{_CPP_CLASS} @definition.class
{_typed(_CPP_CLASS + " @definition.class")}
(alias_declaration name: (type_identifier) @name) @definition.type
(friend_declaration) @container
(namespace_definition name: (_) @name body: (declaration_list) @container) @scope.namespace
(function_definition
  declarator: (identifier) @_namespace
  (ERROR (identifier) @name)
  body: (compound_statement) @container
  (#eq? @_namespace "namespace")) @scope.namespace
(template_declaration
  [(function_definition) (declaration) (class_specifier) (struct_specifier) (alias_declaration)
   (template_declaration)] @wrapped) @wrapper @container
"""

C_KEYWORDS = _words("""
auto break case char const continue default define do double elif else endif enum error extern
float for goto if ifdef ifndef include inline int long pragma register restrict return short
signed sizeof static struct switch typedef undef union unsigned void volatile while
""")

CPP_KEYWORDS = C_KEYWORDS | _words("""
alignas alignof bool catch class constexpr const_cast decltype delete dynamic_cast explicit
false friend mutable namespace new noexcept nullptr operator override private protected public
reinterpret_cast static_assert static_cast template this throw true try typeid typename using
virtual
""")

# --- the registry ------------------------------------------------------------------------------

GRAMMARS: tuple[Grammar, ...] = (
    Grammar("python", "tree_sitter_python", "language", (".py", ".pyi"),
            comment="#", query=PYTHON_QUERY, keywords=PYTHON_KEYWORDS,
            nested_imports=(b"from ", b"import ")),
    Grammar("javascript", "tree_sitter_javascript", "language", (".js", ".mjs", ".cjs", ".jsx"),
            query=JAVASCRIPT_QUERY, keywords=JAVASCRIPT_KEYWORDS),
    Grammar("typescript", "tree_sitter_typescript", "language_typescript", (".ts", ".mts", ".cts"),
            query=TYPESCRIPT_QUERY, keywords=TYPESCRIPT_KEYWORDS),
    Grammar("tsx", "tree_sitter_typescript", "language_tsx", (".tsx",),
            query=TYPESCRIPT_QUERY, keywords=TYPESCRIPT_KEYWORDS),
    Grammar("go", "tree_sitter_go", "language", (".go",),
            query=GO_QUERY, keywords=GO_KEYWORDS),
    Grammar("rust", "tree_sitter_rust", "language", (".rs",),
            query=RUST_QUERY, keywords=RUST_KEYWORDS, nested_imports=(b"use ",)),
    Grammar("java", "tree_sitter_java", "language", (".java",),
            query=JAVA_QUERY, keywords=JAVA_KEYWORDS),
    Grammar("c", "tree_sitter_c", "language", (".c", ".h"),
            query=C_QUERY, keywords=C_KEYWORDS),
    Grammar("cpp", "tree_sitter_cpp", "language",
            (".cc", ".cpp", ".cxx", ".hpp", ".hh", ".hxx", ".c++", ".h++"),
            query=CPP_QUERY, keywords=CPP_KEYWORDS),
)
BY_NAME = {g.name: g for g in GRAMMARS}
BY_EXTENSION = {ext: g.name for g in GRAMMARS for ext in g.extensions}


def language_for_path(path: str) -> str | None:
    """The grammar name for a file, by its extension (case-insensitive); None without one."""
    ext = os.path.splitext(path)[1].lower()
    return BY_EXTENSION.get(ext)


# Lines that only C++ has, to tell a C++ header named `.h` from a C one.
_CPP_HEADER = re.compile(
    rb"^[ \t]*(?:namespace[ \t]+\w+[ \t]*(?:\{|$)|template[ \t]*<|class[ \t]+\w+[^;\n]*\{"
    rb"|using[ \t]+namespace\b|(?:public|protected|private)[ \t]*:|#[ \t]*include[ \t]*<\w+>)",
    re.MULTILINE)


def language_for_source(path: str, source: bytes) -> str | None:
    """Like `language_for_path`, but a `.h` file whose first 64 KiB look like C++ is C++."""
    language = language_for_path(path)
    if language == "c" and path[-2:].lower() == ".h" and _CPP_HEADER.search(source, 0, 65536):
        return "cpp"
    return language


@cache
def load_language(name: str) -> Language:
    """The tree-sitter Language for `name`; ImportError if its wheel is missing."""
    grammar = BY_NAME[name]
    module = importlib.import_module(grammar.module)
    return Language(getattr(module, grammar.function)())


@cache
def query_for(name: str) -> Query:
    """The compiled extraction query of a grammar (compiled once; queries are immutable and
    may be shared between threads, each running its own QueryCursor)."""
    return Query(load_language(name), BY_NAME[name].query)


_local = threading.local()


def parser_for(name: str) -> Parser:
    """A Parser for `name`, one per thread and grammar: a Parser holds mutable state, so
    threads never share one."""
    parsers: dict[str, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(name)
    if parser is None:
        parser = parsers[name] = Parser(load_language(name))
    return parser
