"""The benchmark harness runs end to end at a small C: real servers under uvicorn, the loopback model
server, websockets. Checks the report's shape and that no character is lost; it times nothing."""

import json

import pytest

from benchmarks import run

pytestmark = pytest.mark.django_db(transaction=True)  # the harness's servers use their own databases

POINT_KEYS = {
    "c",
    "completed_within_2x",
    "finished",
    "exact",
    "chars_sent",
    "chars_delivered",
    "lost",
    "ttft_p50_ms",
    "ttft_p99_ms",
    "update_p50_ms",
    "update_p99_ms",
    "cpu_s_per_1000_tokens",
    "peak_rss_mb",
    "bytes_per_reply",
    "db_writes_per_reply",
    "load_average",
    "holds",
}


def test_the_harness_reports_every_figure_and_loses_nothing_at_small_c(tmp_path, capsys):
    report = run.main(
        ["--configs", "bowout-sqlite", "floor", "--points", "3", "--tokens", "40", "--long-c", "0"]
        + ["--profile", "--out", str(tmp_path), "--name", "smoke"]
    )

    saved = json.loads((tmp_path / "smoke.json").read_text())
    assert saved["configs"].keys() == {"bowout-sqlite", "floor"}
    assert "bowout-sqlite/floor" in saved["ratios"]
    assert len(saved["load_average_start"]) == 3
    for name, data in saved["configs"].items():
        (point,) = data["points"]
        assert POINT_KEYS <= point.keys(), name
        assert point["c"] == 3 and point["finished"] == 3 and point["exact"] == 3, (name, point)
        assert point["lost"] == 0 and point["chars_delivered"] == point["chars_sent"] == 3 * 199
        assert point["bytes_per_reply"] > 199
    assert saved["configs"]["bowout-sqlite"]["points"][0]["db_writes_per_reply"] > 0
    assert report["configs"].keys() == saved["configs"].keys()
    assert "bowout-sqlite" in capsys.readouterr().out  # the table on stdout
