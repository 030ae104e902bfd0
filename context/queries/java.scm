; Java: definitions, containers and imports. Capture names: see context/languages.py.

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
