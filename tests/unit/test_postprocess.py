"""Output cleanup: what a model wrote → what the editor may show."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deskmate.server.jobs.postprocess import KeepGoing, Surroundings, clean, cut_point

CURSOR = "█"


def around(source: str) -> Surroundings:
    """Surroundings of the cursor marked with █ in `source`."""
    prefix, suffix = source.split(CURSOR)
    return Surroundings.at(prefix, suffix)


def test_surroundings_describe_the_cursor() -> None:
    s = around("def f():\n    x = g(█)  \r\n\n    return x\n\n    # end\n    pass\n")
    assert s == Surroundings(line_prefix="    x = g(", line_suffix=")  ",
                             next_lines=("    return x", "    # end", "    pass"))
    assert s.mid_line
    assert s.base_indent == 4
    assert not around("if x:\n        █\n").mid_line
    assert around("if x:\n        █\n").base_indent == 8


# (name, source with █, what the model wrote, what is shown)
CASES = [
    # A cursor in the middle of a line gets one line.
    ("python mid-line", "    result = compute(█)\n    return result\n",
     "a, b)\n    return result\n", "a, b"),
    ("js mid-line", "const total = items.reduce(█);\n",
     "(sum, x) => sum + x, 0);\nconsole.log(total);", "(sum, x) => sum + x, 0"),
    ("mid-line answer starting with a newline", "x = █y\n", "\nfoo()", ""),
    # Stop where the model re-writes the code after the cursor.
    ("python repeats the next line", "def area(r):\n    █\n    return result\n",
     "result = 3.14159 * r * r\n    return result\n", "result = 3.14159 * r * r"),
    ("go repeats the rest of the function",
     "func sum(xs []int) int {\n\ttotal := 0\n\t█\n\treturn total\n}\n",
     "for _, x := range xs {\n\t\ttotal += x\n\t}\n\treturn total\n}",
     "for _, x := range xs {\n\t\ttotal += x\n\t}"),
    ("a closing line equal to the next line is not a repeat",
     "fn f() {\n    if ok {\n        █\n    }\n}\n",
     "run();\n        done();\n    }\n", "run();\n        done();"),
    # Stop at a dedent past the cursor's block.
    ("python dedent to module level", "def add(a, b):\n    █\n\ndef sub(a, b):\n    pass\n",
     "return a + b\n\n\nclass Calculator:\n    pass", "return a + b"),
    ("python method ends at the next method",
     "class A:\n    def f(self):\n        █\n    def g(self):\n        pass\n",
     "x = 1\n        return x\n\n    def h(self):\n        pass\n", "x = 1\n        return x"),
    ("js closing brace of the enclosing function is the suffix's",
     "function add(a, b) {\n  █\n}\n", "return a + b;\n}\n\nfunction sub() {}",
     "return a + b;"),
    # A completion that opens a block keeps its closing line and stops after it.
    ("rust block", "fn main() {\n    let v = vec![1, 2, 3];\n    █\n}\n",
     'for x in &v {\n        println!("{}", x);\n    }\n    println!("done");',
     'for x in &v {\n        println!("{}", x);\n    }'),
    ("js callback block", "fs.readFile(p, (err, data) => {\n    █\n  });\n",
     "if (err) {\n      throw err;\n    }\n    return data;",
     "if (err) {\n      throw err;\n    }"),
    ("go block with a closing paren line", "func f() {\n\t█\n}\n",
     "defer func() {\n\t\tcleanup()\n\t}()\n\tlog.Print(1)",
     "defer func() {\n\t\tcleanup()\n\t}()"),
    ("python block stops at its own level", "def f(self):\n        █\n",
     "if x:\n            y()\n        z()\n", "if x:\n            y()"),
    # Never close a bracket the suffix already closes.
    ("python call", "print(█)\n", "'hello')", "'hello'"),
    ("js object literal", "const config = {█};\n", " debug: true };", " debug: true"),
    ("js arrow in a call", "  items.map(█)\n", "x => x * 2))", "x => x * 2"),
    ("rust nested brackets kept", "let v = vec![█];\n", "f(a[0]), g(b)]", "f(a[0]), g(b)"),
    ("bracket inside a string is not a closer", "log(█)\n", "\")\" + x)", "\")\" + x"),
    ("trailing punctuation the suffix has", "let x = █;\n", "compute(a, b);", "compute(a, b)"),
    ("bracket the suffix does not have is kept", "x = [1, 2█\n", ", 3]", ", 3]"),
    # Only whitespace is nothing.
    ("whitespace only", "def f():\n    █\n", "   \n\t\n  ", ""),
    ("empty", "x = █\n", "", ""),
    ("trailing whitespace dropped", "def f():\n    █\n", "return 1   \n\n", "return 1"),
]


@pytest.mark.parametrize(("source", "written", "shown"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_clean(source: str, written: str, shown: str) -> None:
    assert clean(written, around(source)) == shown


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        ("x = 1\n    y = call(a,\n        b", "x = 1"),  # cut back to the last balanced line
        ("x = 1\n    y = [\n        2,\n    ]\n    z = {", "x = 1\n    y = [\n        2,\n    ]"),
        ("x = call(a, b)\n    y = 2", "x = call(a, b)\n    y = 2"),  # balanced: untouched
    ],
)
def test_a_truncated_answer_keeps_only_balanced_lines(written: str, shown: str) -> None:
    s = around("def f():\n    █\n")
    assert clean(written, s, truncated=True) == shown


def test_a_finished_answer_is_not_trimmed_for_balance() -> None:
    written = "x = 1\n    y = call(a,\n        b"
    assert clean(written, around("def f():\n    █\n")) == written


# --------------------------------------------------------------------------- streaming


@pytest.mark.parametrize(
    ("source", "stream", "stops_at"),
    [
        # Mid-line: the stream stops at the first newline.
        ("f(█)\n", ["a, ", "b)", "\nnext"], 2),
        # Dedent: judged once the dedented line is complete (it may still be a comment...).
        ("def f():\n    █\n", ["return 1\n", "\nclass", " B:\n"], 2),
        # Repeat of the suffix's next line.
        ("def f():\n    █\n    return x\n", ["x = 2\n", "    return x", "\n"], 2),
        # A block's closing line: kept, and the stream stops once the next line is complete.
        ("fn f() {\n    █\n}\n", ["if a {\n", "        b();\n", "    }", "\n", "    c();\n"], 3),
    ],
)
def test_keep_going_stops_a_stream_once_a_rule_has_cut(
    source: str, stream: list[str], stops_at: int
) -> None:
    keep_going = KeepGoing(around(source))
    text = ""
    verdicts = []
    for piece in stream:
        text += piece
        verdicts.append(keep_going(text))
    assert verdicts == [index < stops_at for index in range(len(stream))]
    assert clean(text, around(source)) == clean("".join(stream[:stops_at + 1]), around(source))


def test_keep_going_never_stops_a_clean_answer() -> None:
    keep_going = KeepGoing(around("def f():\n    █\n"))
    text = "total = 0\n    for x in xs:\n        total += x\n    return total\n"
    assert all(keep_going(text[:end]) for end in range(len(text) + 1))
    assert clean(text, around("def f():\n    █\n")) == text.rstrip()


CODE_LINES = st.sampled_from([
    "", "    ", "x = 1", "    return x", "        y()", "}", "    }", "  });", "if x:", "    if y:",
    "function f() {", "\tfoo(a, b)", "\t}", "def g():", "    pass", ")", "]", "fn main() {",
    "    let v = vec![1];", "print('(')", "#", "  // note",
])
SNIPPETS = st.lists(CODE_LINES, max_size=8).map("\n".join)


@st.composite
def situations(draw: st.DrawFn) -> tuple[Surroundings, str]:
    before = draw(SNIPPETS)
    line_prefix = draw(st.sampled_from(["", "    ", "\t", "x = ", "    return ", "foo("]))
    line_suffix = draw(st.sampled_from(["", ")", ");", "]", "  ", " }"]))
    after = draw(SNIPPETS)
    prefix = f"{before}\n{line_prefix}" if before else line_prefix
    return Surroundings.at(prefix, f"{line_suffix}\n{after}"), draw(SNIPPETS)


@settings(max_examples=400)
@given(situation=situations(), final_newline=st.booleans())
def test_keep_going_agrees_with_clean(situation: tuple[Surroundings, str],
                                      final_newline: bool) -> None:
    surroundings, written = situation
    if final_newline:
        written += "\n"
    keep_going = KeepGoing(surroundings)
    final_cut = cut_point(written, surroundings, final=True)
    stopped = False
    for end in range(len(written) + 1):
        seen = written[:end]
        if not keep_going(seen):
            # Where the stream stops, the rules have already cut at their final place...
            assert cut_point(seen, surroundings, final=False) == final_cut
            assert clean(seen, surroundings) == clean(written, surroundings)
            stopped = True
        else:
            assert not stopped  # ...and once stopped, more text never restarts it.
    # A cut in the final text stops the stream once the cut line is complete.
    if final_cut < len(written):
        assert not keep_going(written + "\n")
