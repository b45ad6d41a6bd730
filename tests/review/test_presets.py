from __future__ import annotations

import pytest

from medtl.errors import ConfigError
from medtl.review.presets import load_settings


def test_default_presets_match_the_issue():
    s = load_settings()
    expected = {"CT soft tissue": (400, 40), "CT lung": (1500, -600), "CT bone": (2500, 480), "CT brain": (80, 40)}
    for name, (width, level) in expected.items():
        assert (s.presets[name].kind, s.presets[name].width, s.presets[name].level) == ("window", width, level)
    assert s.presets[s.default_for("MR")].kind == "percentile"
    assert s.presets[s.default_for("US")].kind == "percentile"
    assert s.default_for("CT") == "CT soft tissue"
    assert s.default_for(None) == "Full range"
    assert s.preset_names("MR")[0] == s.default_for("MR")  # the modality's own presets come first


@pytest.mark.parametrize(
    "text, needle",
    [
        ("window_presets: [{name: a, kind: window, width: -5, level: 0}]", "width must be > 0"),
        ("window_presets: [{name: a, kind: gamma}]", "unknown kind"),
        ("window_presets: [{name: a, kind: percentile, low: 50, high: 10}]", "low < high"),
        ("window_presets: [{name: a, kind: window, width: 1, level: 0}]\ndefault_preset: {CT: b}", "unknown presets"),
        ("window_presets: [", "not valid YAML"),
        ("other: 1", "window_presets"),
    ],
)
def test_bad_settings_raise_config_error_naming_the_file(tmp_path, text, needle):
    path = tmp_path / "review.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=needle) as info:
        load_settings(path)
    assert info.value.path == str(path)


def test_missing_settings_file(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_settings(tmp_path / "nope.yaml")
