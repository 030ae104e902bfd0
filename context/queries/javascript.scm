; JavaScript only, after ecmascript.scm. Capture names: see context/languages.py.

; class fields holding functions: f = () => {...}
(class_body (field_definition property: (_) @name value: [
    (arrow_function body: (_) @body)
    (function_expression body: (_) @body)
    (generator_function body: (_) @body)])
  @definition.function)
