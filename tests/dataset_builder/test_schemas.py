"""The declared schemas: what the writers write validates, and any tampering is an ArtifactError, never a crash."""

import json
import math
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from macro2micro.dataset_builder.errors import ArtifactError
from macro2micro.dataset_builder.hub import run_schemas, schemas
from macro2micro.dataset_builder.hub.artifacts import open_dataset_repo, read_build, read_card
from macro2micro.dataset_builder.hub.checks import validate

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@pytest.fixture(scope="module")
def repo(synthetic_corpus, tmp_path_factory):
    from tests.helpers import build_repo

    tmp = tmp_path_factory.mktemp("schemas")
    folder, _ = build_repo(synthetic_corpus, tmp, budget=16, levels=3)
    return tmp / "subsets", folder


def test_everything_the_writers_wrote_validates(repo):
    subsets, folder = repo
    info, manifests = read_build(subsets)
    assert info["configs"] == list(manifests) and all(m["budget"] == 16 for m in manifests.values())
    r = open_dataset_repo(folder)
    assert list(r.metrics()) == ["full", *info["configs"]]
    card = read_card(folder / "README.md")
    assert [c["config_name"] for c in card["configs"]] == ["full", *info["configs"]]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    field=st.sampled_from(["options", "corpus", "configs", "level_names", "length_control", "warnings"]), value=JSON
)
def test_any_value_in_build_json_is_read_or_refused_in_one_line(repo, tmp_path_factory, field, value):
    subsets, _ = repo
    work = tmp_path_factory.mktemp("b") / "subsets"
    shutil.copytree(subsets, work)
    info = json.loads((work / "build.json").read_text())
    info[field] = value
    (work / "build.json").write_text(json.dumps(info))
    try:
        read_build(work)
    except ArtifactError as err:
        assert str(err).startswith(str(work)) and "\n" not in str(err)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    field=st.sampled_from(
        ["selected_ids", "budget", "k", "strategy", "config", "varies", "corpus", "level", "type_coverage", "seed"]
    ),
    value=JSON,
)
def test_any_value_in_a_manifest_is_refused_in_one_line(repo, field, value):
    subsets, _ = repo
    manifest = json.loads((subsets / "manifests" / "micro_response_max.json").read_text())
    manifest[field] = value
    manifest["manifest_sha256"] = schemas.manifest_hash(manifest)
    try:
        validate(schemas.Manifest, manifest, "m.json")
    except ArtifactError as err:
        assert str(err).startswith("m.json: ") and "\n" not in str(err) and len(str(err)) < 1000


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -math.inf])
def test_non_finite_numbers_are_named_wherever_they_sit(bad):
    with pytest.raises(ArtifactError, match=r"x.json: field 'a\[1\].b': not a finite number"):
        validate(run_schemas.AdapterConfig, {"base_model_name_or_path": "m", "a": [0, {"b": bad}]}, "x.json")


def test_a_card_without_front_matter_or_unclosed(tmp_path):
    card = tmp_path / "README.md"
    card.write_text("# just a title\n")
    assert read_card(card) == {}
    card.write_text("---\nlicense: mit\n")
    with pytest.raises(ArtifactError, match="opened by '---' on line 1 is never closed"):
        read_card(card)
    card.write_text("---\n- 1\n- 2\n---\n")
    with pytest.raises(ArtifactError, match="the front matter is a list, not a mapping"):
        read_card(card)
