; Go: definitions, containers and imports. Capture names: see context/languages.py.

(function_declaration name: (identifier) @name body: (block)? @body) @definition.function
(method_declaration
  receiver: (parameter_list (parameter_declaration type: [
    (type_identifier) @parent
    (pointer_type (type_identifier) @parent)
    (generic_type type: (type_identifier) @parent)
    (pointer_type (generic_type type: (type_identifier) @parent))]))
  name: (field_identifier) @name
  body: (block)? @body) @definition.method
(type_spec name: (type_identifier) @name type: (struct_type (field_declaration_list) @body))
  @definition.struct
(type_spec name: (type_identifier) @name type: (interface_type "{" @body) @container)
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
