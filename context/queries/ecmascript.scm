; JavaScript and TypeScript (and TSX) alike: definitions, containers and imports; each grammar
; adds its own patterns after these (javascript.scm, typescript.scm). Capture names: see
; context/languages.py.

(function_declaration name: (identifier) @name body: (statement_block) @body)
  @definition.function
(generator_function_declaration name: (identifier) @name body: (statement_block) @body)
  @definition.function
(class_declaration name: (_) @name body: (class_body) @body @container) @definition.class
(class_body (method_definition name: (_) @name body: (statement_block) @body)
  @definition.function)

; const f = () => {...}, var f = function () {...}
[(lexical_declaration (variable_declarator name: (identifier) @name value: [
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
    (generator_function body: (_) @body)]))
 (variable_declaration (variable_declarator name: (identifier) @name value: [
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
    (generator_function body: (_) @body)]))]
  @definition.function
; const C = class {...}
[(lexical_declaration (variable_declarator
   name: (identifier) @name value: (class body: (class_body) @body @container)))
 (variable_declaration (variable_declarator
   name: (identifier) @name value: (class body: (class_body) @body @container)))]
  @definition.class
; obj.f = function () {...}, but not module.exports = ...
(expression_statement (assignment_expression
  left: (member_expression property: (property_identifier) @name)
  right: [(function_expression body: (_) @body) (arrow_function body: (_) @body)])
  (#not-eq? @name "exports")) @definition.function
(export_statement declaration: (_) @wrapped) @wrapper @container
; the module is a function body: an IIFE, an AMD define factory
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

; const m = require("m")
[(lexical_declaration (variable_declarator
   name: (identifier) @import.alias
   value: (call_expression
     function: (identifier) @_require
     arguments: (arguments . (string (string_fragment) @import.module) .)) @import
   (#eq? @_require "require")))
 (variable_declaration (variable_declarator
   name: (identifier) @import.alias
   value: (call_expression
     function: (identifier) @_require
     arguments: (arguments . (string (string_fragment) @import.module) .)) @import
   (#eq? @_require "require")))]
; const {a, b: c} = require("m")
[(lexical_declaration (variable_declarator
   name: (object_pattern [
     (shorthand_property_identifier_pattern) @import.name
     (pair_pattern key: (property_identifier) @import.name value: (identifier) @import.alias)])
   value: (call_expression
     function: (identifier) @_require
     arguments: (arguments . (string (string_fragment) @import.module) .)) @import
   (#eq? @_require "require")))
 (variable_declaration (variable_declarator
   name: (object_pattern [
     (shorthand_property_identifier_pattern) @import.name
     (pair_pattern key: (property_identifier) @import.name value: (identifier) @import.alias)])
   value: (call_expression
     function: (identifier) @_require
     arguments: (arguments . (string (string_fragment) @import.module) .)) @import
   (#eq? @_require "require")))]
; require("m") on its own
(expression_statement (call_expression
    function: (identifier) @_require
    arguments: (arguments . (string (string_fragment) @import.module) .)) @import
  (#eq? @_require "require"))
