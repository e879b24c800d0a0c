"""The rules of the checker itself (schema stage, exceptions, tiers), besides the packs'.

Their ids are reserved: a pack cannot define another SCH001.
"""

from __future__ import annotations

from collections.abc import Mapping

from checker.deprecations import RULES as DEPRECATION_RULES
from checker.drift.rules import RULES as DRIFT_RULES
from checker.exceptions import RULES as EXCEPTION_RULES
from checker.gitgates.rules import RULES as GIT_RULES
from checker.model import RuleInfo
from checker.render.stage import RULES as RENDER_RULES
from checker.schema import RULES as SCHEMA_RULES
from checker.tiers import RULES as TIER_RULES

BUILTIN_RULES: Mapping[str, RuleInfo] = {**SCHEMA_RULES, **DEPRECATION_RULES, **EXCEPTION_RULES,
                                         **TIER_RULES, **RENDER_RULES, **DRIFT_RULES,
                                         **GIT_RULES}
BUILTIN_SOURCES: Mapping[str, str] = {
    **{rule_id: "checker/schema.py" for rule_id in SCHEMA_RULES},
    **{rule_id: "checker/deprecations.py" for rule_id in DEPRECATION_RULES},
    **{rule_id: "checker/exceptions.py" for rule_id in EXCEPTION_RULES},
    **{rule_id: "checker/tiers.py" for rule_id in TIER_RULES},
    **{rule_id: "checker/render/stage.py" for rule_id in RENDER_RULES},
    **{rule_id: "checker/drift/rules.py" for rule_id in DRIFT_RULES},
    **{rule_id: "checker/gitgates/rules.py" for rule_id in GIT_RULES},
}
