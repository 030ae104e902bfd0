; TypeScript and TSX, after ecmascript.scm. Capture names: see context/languages.py.

; class fields holding functions: f = () => {...}
(class_body (public_field_definition name: (_) @name value: [
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
    (generator_function body: (_) @body)])
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
