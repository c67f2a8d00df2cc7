"""The strict Prometheus parser used by test_ops must itself reject bad text
(otherwise test_ops could not fail)."""
import pytest

from parley import PromError, parse_prometheus

GOOD = """# HELP pl_requests_total Requests.
# TYPE pl_requests_total counter
pl_requests_total{method="chat.postMessage",ok="true"} 3
pl_requests_total{method="auth.test",ok="false"} 0
# HELP pl_up Up.
# TYPE pl_up gauge
pl_up 1
# HELP pl_lat_seconds Latency.
# TYPE pl_lat_seconds histogram
pl_lat_seconds_bucket{le="0.001"} 1
pl_lat_seconds_bucket{le="0.01"} 2
pl_lat_seconds_bucket{le="+Inf"} 3
pl_lat_seconds_sum 0.5
pl_lat_seconds_count 3
"""


def test_good_text_parses():
    f = parse_prometheus(GOOD)
    assert f["pl_requests_total"]["type"] == "counter"
    assert len(f["pl_requests_total"]["samples"]) == 2
    assert f["pl_lat_seconds"]["samples"][-1] == ("pl_lat_seconds_count", (), 3.0)


BAD = {
    "no newline at end": GOOD.rstrip("\n"),
    "sample without TYPE": "pl_x 1\n",
    "bad value": "# TYPE pl_x gauge\npl_x one\n",
    "bad name": "# TYPE pl-x gauge\npl-x 1\n",
    "bad label": '# TYPE pl_x gauge\npl_x{a=b} 1\n',
    "unterminated label": '# TYPE pl_x gauge\npl_x{a="b} 1\n',
    "duplicate series": "# TYPE pl_x gauge\npl_x 1\npl_x 2\n",
    "second TYPE": "# TYPE pl_x gauge\n# TYPE pl_x gauge\npl_x 1\n",
    "unknown type": "# TYPE pl_x meter\npl_x 1\n",
    "negative counter": "# TYPE pl_x counter\npl_x -1\n",
    "TYPE after samples": "# TYPE pl_x gauge\npl_x 1\n# HELP pl_x late\n",
    "not contiguous": "# TYPE pl_x gauge\npl_x{a=\"1\"} 1\n# TYPE pl_y gauge\npl_y 1\n"
                      "pl_x{a=\"2\"} 1\n",
    "not cumulative": GOOD.replace('le="0.01"} 2', 'le="0.01"} 0'),
    "no +Inf": GOOD.replace('pl_lat_seconds_bucket{le="+Inf"} 3\n', ""),
    "count != +Inf": GOOD.replace("pl_lat_seconds_count 3", "pl_lat_seconds_count 4"),
    "no _sum": GOOD.replace("pl_lat_seconds_sum 0.5\n", ""),
    "le not ascending": GOOD.replace('le="0.01"', 'le="0.0001"'),
    "histogram bare sample": "# TYPE pl_h histogram\npl_h 1\n",
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_text_is_rejected(case):
    with pytest.raises(PromError):
        parse_prometheus(BAD[case])
