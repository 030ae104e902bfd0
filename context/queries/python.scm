; Python: definitions, containers and imports. Capture names: see context/languages.py.

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
