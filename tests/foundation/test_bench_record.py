"""`make bench --record` regenerates the README's Measurements section from what the benchmarks printed."""

from bench.__main__ import END, START, existing_blocks, update_readme


def test_section_is_added_then_replaced_keeping_blocks_not_rerun():
    readme = "# Project\n\nText.\n"
    first = update_readme(readme, {"bench_a": "a 1.0x\n", "bench_b": "b 2.0x\n"}, date="2026-12-07 03:00 UTC", host="m")
    assert first.startswith(readme.rstrip("\n"))
    assert "## Measurements" in first and first.count(START) == 1 and first.count(END) == 1
    assert existing_blocks(first) == {"bench_a": "a 1.0x", "bench_b": "b 2.0x"}

    second = update_readme(first + "\n## After\n", {"bench_b": "b 3.0x\n"}, date="2026-12-08 04:00 UTC", host="m")
    assert existing_blocks(second) == {"bench_a": "a 1.0x", "bench_b": "b 3.0x"}
    assert "2026-12-08 04:00 UTC" in second and "2026-12-07" not in second
    assert second.count("## Measurements") == 1 and second.rstrip().endswith("## After")



def test_the_committed_readme_has_one_generated_section():
    from bench.__main__ import README

    text = README.read_text()
    assert text.count(START) == 1 and text.count(END) == 1
