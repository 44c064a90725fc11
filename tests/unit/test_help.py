"""/protocols: every parameter is shown with its own date and source."""

from __future__ import annotations

from core.chat import help


def lines(reply):
    return [(section.title, line.label, line.value) for section in reply.sections for line in section.lines]


def test_a_parameter_with_its_own_date_shows_it(presets):
    detail = lines(help.preset_detail(presets.get("compound-v3")))
    wbtc = next(value for _, label, value in detail if label == "WBTC")
    weth = next(value for _, label, value in detail if label == "WETH")
    assert "85.0%" in wbtc and "as of 2024-02" in wbtc and "governance" in wbtc
    assert "as of" not in weth  # the market's own date, shown once below
    overview = {line.label: line.value for line in help.presets_overview(presets).sections[0].lines}
    assert "2022-08, 2024-02" in overview["compound-v3"]


def test_every_preset_shows_its_liquidation_rule_dated_and_sourced(presets):
    for preset in presets:
        liquidation = {label: value for title, label, value in lines(help.preset_detail(preset)) if title == "Liquidation"}
        assert liquidation["Rule"] and liquidation["As of"] and liquidation["Source"], preset.id
    aave = {label: value for title, label, value in lines(help.preset_detail(presets.get("aave-v3"))) if title == "Liquidation"}
    assert "HF 0.95" in aave["Rule"] and "$2,000" in aave["Rule"] and aave["As of"] == "2026-02"
