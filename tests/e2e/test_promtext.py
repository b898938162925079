# SPDX-License-Identifier: BSD-2-Clause
"""The strict text-format parser the metrics tests rely on rejects what it must."""
import pytest

import promtext

GOOD = ('# HELP a_total A.\n# TYPE a_total counter\na_total{x="q\\"\\\\\\n"} 1\n'
        '# HELP h H.\n# TYPE h histogram\n'
        'h_bucket{le="0.1"} 1\nh_bucket{le="+Inf"} 2\nh_sum 0.3\nh_count 2\n')


def test_good_exposition_parses():
    fams = promtext.parse(GOOD)
    assert fams["a_total"]["samples"] == [("a_total", {"x": 'q"\\\n'}, 1.0)]
    assert promtext.value(fams, "h_count") == 2


@pytest.mark.parametrize("text, why", [
    ("a_total 1\n", "sample before HELP"),
    ("# HELP a_total A.\na_total 1\n", "no TYPE"),
    ("# HELP a A.\n# TYPE a counter\na 1\n", "counter without _total"),
    ("# HELP a_total A.\n# TYPE a_total counter\na_total -1\n", "negative counter"),
    ("# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"\\t\"} 1\n", "bad escape"),
    ("# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\",x=\"2\"} 1\n", "label twice"),
    ("# HELP a_total A.\n# TYPE a_total counter\na_total 1\na_total 2\n", "series twice"),
    ("# HELP a A.\n# TYPE a gauge\n# HELP b B.\n# TYPE b gauge\nb 1\na 1\n",
     "family not contiguous"),
    ("# HELP a A.\n# TYPE a gauge\na  1\n", "two spaces"),
    ("# HELP a A.\n# TYPE a gauge\na 1", "no final newline"),
    ("# HELP a A.\n# TYPE a gauge\n1a 1\n", "bad name"),
    ("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
     "h_sum 1\nh_count 1\n", "buckets not cumulative"),
    ("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
     "no +Inf"),
    ("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 1\n",
     "count differs"),
    ("# HELP h H.\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n", "no sum"),
])
def test_bad_exposition_is_rejected(text, why):
    with pytest.raises(ValueError):
        promtext.parse(text)
