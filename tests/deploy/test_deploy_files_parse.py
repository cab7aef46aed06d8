"""Every YAML and JSON file under deploy/ parses, with no key given twice.

A key given twice (two ``env:`` blocks, say) is valid YAML to PyYAML and to kubectl,
which silently keep the last one: here it is an error.
"""

import json
from pathlib import Path

import pytest
import yaml

from deploy.files import DEPLOY, deploy_files, load_yaml_all

YAML_FILES = deploy_files(".yaml", ".yml")
JSON_FILES = deploy_files(".json")


def test_deploy_holds_the_expected_files() -> None:
    names = {str(path.relative_to(DEPLOY)) for path in deploy_files(".yaml", ".yml", ".json")}

    assert {
        "compose/compose.yaml",
        "prometheus/correlator-rules.yaml",
        "grafana/correlator-dashboard.json",
        "kubernetes/deployment.yaml",
    } <= names


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda path: str(path.relative_to(DEPLOY)))
def test_yaml_parses_without_repeated_keys(path: Path) -> None:
    documents = load_yaml_all(path)

    assert documents, f"{path} holds no document"
    assert all(isinstance(document, dict) for document in documents)


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda path: str(path.relative_to(DEPLOY)))
def test_json_parses_without_repeated_keys(path: Path) -> None:
    def unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
        keys = [key for key, _ in pairs]
        assert len(keys) == len(set(keys)), f"{path}: a key given twice among {keys}"
        return dict(pairs)

    assert isinstance(json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=unique), dict)


def test_a_repeated_key_is_caught(tmp_path: Path) -> None:
    path = tmp_path / "twice.yaml"
    path.write_text("spec:\n  env: [a]\n  env: [b]\n")

    with pytest.raises(yaml.constructor.ConstructorError, match="'env' given twice, line 3"):
        load_yaml_all(path)
