"""`?page=&per_page=`, X-Total-Count and Link on API lists."""

from __future__ import annotations

import pytest

from tests.api import assert_error


@pytest.mark.parametrize("path", ["users", "organisations"])
@pytest.mark.parametrize(
    "query",
    [
        "per_page=201",
        "per_page=0",
        "per_page=abc",
        "page=0",
        "page=-1",
        "page=1.5",
        "page=99999999999999999999",
    ],
)
def test_bad_paging_values_are_422(api, make, path, query):
    response = api(make.user("admin")).get(f"{path}?{query}")
    assert_error(response, 422, query.split("=")[0])


def test_a_middle_page_links_every_way(api, make):
    for _ in range(5):
        make.organisation()
    response = api(make.user("admin")).get("organisations?page=2&per_page=2")

    assert len(response.get_json()) == 2
    assert response.headers["X-Total-Count"] == "5"
    link = response.headers["Link"]
    for rel, page in (("first", 1), ("prev", 1), ("next", 3), ("last", 3)):
        assert f'page={page}&per_page=2>; rel="{rel}"' in link


def test_a_page_past_the_end_is_empty_but_still_links_back(api, make):
    make.organisation()
    response = api(make.user("admin")).get("organisations?page=9")
    assert response.status_code == 200 and response.get_json() == []
    assert response.headers["X-Total-Count"] == "1"
    assert 'rel="last"' in response.headers["Link"] and 'rel="next"' not in response.headers["Link"]


def test_max_per_page_is_accepted(api, make):
    response = api(make.user("admin")).get("organisations?per_page=200")
    assert response.status_code == 200
