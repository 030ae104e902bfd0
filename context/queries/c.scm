; C: definitions, containers and imports. Capture names: see context/languages.py.
; cpp.scm starts with the same patterns, for C++'s names.

; struct S {...}, union U {...}, enum E {...}: their bodies are containers (a #define written
; between the fields)
(struct_specifier
  name: (type_identifier) @name
  body: (field_declaration_list) @body @container) @definition.struct
(union_specifier
  name: (type_identifier) @name
  body: (field_declaration_list) @body @container) @definition.struct
(enum_specifier
  name: (type_identifier) @name
  body: (enumerator_list) @body @container) @definition.enum
; the same as the type of a declaration, typedef or field: struct S {...} s;
[(declaration type: (struct_specifier
   name: (type_identifier) @name
   body: (field_declaration_list) @body @container) @definition.struct)
 (type_definition type: (struct_specifier
   name: (type_identifier) @name
   body: (field_declaration_list) @body @container) @definition.struct)
 (field_declaration type: (struct_specifier
   name: (type_identifier) @name
   body: (field_declaration_list) @body @container) @definition.struct)]
[(declaration type: (union_specifier
   name: (type_identifier) @name
   body: (field_declaration_list) @body @container) @definition.struct)
 (type_definition type: (union_specifier
   name: (type_identifier) @name
   body: (field_declaration_list) @body @container) @definition.struct)
 (field_declaration type: (union_specifier
   name: (type_identifier) @name
   body: (field_declaration_list) @body @container) @definition.struct)]
[(declaration type: (enum_specifier
   name: (type_identifier) @name
   body: (enumerator_list) @body @container) @definition.enum)
 (type_definition type: (enum_specifier
   name: (type_identifier) @name
   body: (enumerator_list) @body @container) @definition.enum)
 (field_declaration type: (enum_specifier
   name: (type_identifier) @name
   body: (enumerator_list) @body @container) @definition.enum)]
; typedef struct {...} T; typedef struct S *T; typedef void (*T)(void);
(type_definition
  type: [
    (struct_specifier name: (_)? @tag body: (_) @body @container)
    (union_specifier name: (_)? @tag body: (_) @body @container)
    (enum_specifier name: (_)? @tag body: (_) @body @container)]?
  declarator: [
    (type_identifier) @name
    (pointer_declarator declarator: (type_identifier) @name)
    (function_declarator declarator: (parenthesized_declarator (pointer_declarator
      declarator: (type_identifier) @name)))]) @definition.type
(preproc_def name: (identifier) @name) @definition.macro
(preproc_function_def name: (identifier) @name value: (preproc_arg)? @body) @definition.macro
(linkage_specification body: (declaration_list) @container)
; a macro in front of a block reads as a function without parameters
; (_GLIBCXX_BEGIN_NAMESPACE_VERSION namespace chrono {...}): its body is a container
(function_definition declarator: (identifier) body: (compound_statement) @container)
[(preproc_if) (preproc_ifdef) (preproc_else) (preproc_elif) (preproc_elifdef) (ERROR)]
  @container

(preproc_include path: (string_literal (string_content) @import.module)) @import
(preproc_include path: (system_lib_string) @import.system) @import

; functions and prototypes, also when they return pointers: f(x), *f(x), **f(x)
(function_definition
  declarator: [
    (function_declarator declarator: (identifier) @name)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
    (pointer_declarator declarator:
      (pointer_declarator declarator: (function_declarator declarator: (identifier) @name)))]
  body: (compound_statement) @body)
  @definition.function
(declaration
  declarator: [
    (function_declarator declarator: (identifier) @name)
    (pointer_declarator declarator: (function_declarator declarator: (identifier) @name))
    (pointer_declarator declarator:
      (pointer_declarator declarator: (function_declarator declarator: (identifier) @name)))])
  @definition.function
