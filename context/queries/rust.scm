; Rust: definitions, scopes, containers and imports. Capture names: see context/languages.py.

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
