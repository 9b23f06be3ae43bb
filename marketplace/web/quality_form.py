"""The quality part of the bundle form: the rules (edited in the page by
`static/js/rules-editor.js`, posted as JSON), the exam settings and the hidden agent word."""

from __future__ import annotations

import json
from typing import Any

from django import forms

from tasks.quality.machine_signals import MACHINE_COLLECTORS, MACHINE_MIN_ANSWERS
from tasks.quality.rules_engine import ACTION_LABELS, ACTIONS, COLLECTORS, DEFAULT_MIN_ANSWERS

#: The editor's vocabulary: each collector with its default threshold and whether it fires
#: below or above, each action with the parameter it takes (if any).
COLLECTOR_LABELS = {
    "gold_accuracy": "Gold accuracy (upper bound)",
    "answer_speed": "Share of too-fast answers",
    "agreement": "Agreement with the label",
    "answer_distribution": "One answer over-used",
    "skips": "Share of skipped claims",
    "pasted": "Share of pasted answers",
    "too_fast_to_type": "Faster than reading and typing",
    "near_duplicate": "Near-identical to another worker",
    "agent_canary": "Contains the hidden agent word",
}
ACTION_PARAMETERS = {
    "reject_requeue": "recent", "lower_weight": "weight",
    "grant_qualification": "qualification", "revoke_qualification": "qualification",
}  # fmt: skip


def rule_editor_options() -> dict[str, Any]:
    """What the in-page rules editor offers (rendered as JSON into the page)."""
    return {
        "collectors": [
            {"value": name, "label": COLLECTOR_LABELS.get(name, name), "fires": fires,
             "threshold": threshold, "machine": name in MACHINE_COLLECTORS,
             "min_answers": MACHINE_MIN_ANSWERS.get(name, DEFAULT_MIN_ANSWERS)}
            for name, (fires, threshold) in COLLECTORS.items()
        ],
        "actions": [
            {"value": name, "label": ACTION_LABELS.get(name, name),
             "parameter": ACTION_PARAMETERS.get(name)}
            for name in ACTIONS
        ],
    }  # fmt: skip


class QualityFields(forms.Form):
    quality_rules = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "spellcheck": "false"}),
        label="Quality rules (JSON)",
        help_text=(
            'A list of rules, e.g. [{"collector": "answer_speed", "threshold": 0.5, '
            '"min_answers": 5, "action": "block"}]. Collectors: '
            + ", ".join(COLLECTORS)
            + "; actions: "
            + ", ".join(ACTIONS)
            + "."
        ),
    )
    agent_canary = forms.CharField(
        required=False,
        max_length=40,
        label="Hidden word for AI agents (optional)",
        help_text="Tasks carry an instruction people never see, asking automated agents to "
        "include this word; the agent_canary rule catches answers that do.",
    )
    exam_qualification = forms.SlugField(
        required=False,
        max_length=64,
        label="Exam: qualification it grants (optional)",
        help_text="Makes this bundle an exam: gold items only; a worker who passes gets this "
        "qualification (their score as its value) and bundles requiring it open to them.",
    )
    exam_pass_score = forms.IntegerField(
        required=False, min_value=1, max_value=100, initial=80, label="Exam: pass mark (%)"
    )

    def clean_quality_rules(self) -> list[Any]:
        text = self.cleaned_data.get("quality_rules") or ""
        if not text.strip():
            return []
        try:
            parsed = json.loads(text)
        except ValueError as exc:
            raise forms.ValidationError(f"Not valid JSON: {exc}.") from exc
        if not isinstance(parsed, list):
            raise forms.ValidationError("The rules are a JSON list.")
        return parsed

    def quality_service_data(self) -> dict[str, Any]:
        """The quality settings as `tasks.services.bundle_create` data (validated there)."""
        data = self.cleaned_data
        result: dict[str, Any] = {}
        if data.get("quality_rules"):
            result["quality_rules"] = data["quality_rules"]
        if data.get("agent_canary"):
            result["agent_canary"] = data["agent_canary"]
        if data.get("exam_qualification"):
            result["exam"] = {
                "qualification": data["exam_qualification"],
                "pass_score": data.get("exam_pass_score") or 80,
            }
        return result
