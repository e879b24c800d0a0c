"""The segregation-of-duties rules of `sod` (category `git`): severity by the tier of the
protected paths (`sod.protected[].tier`, default critical)."""

from __future__ import annotations

from checker.model import RuleInfo, Severity

_BY_TIER = {"critical": Severity.HIGH, "standard": Severity.MEDIUM, "nonprod": Severity.LOW}
_OWNERS_BY_TIER = {"critical": Severity.MEDIUM, "standard": Severity.LOW,
                   "nonprod": Severity.INFO}
"""GIT005 is a weaker signal than the others: another person did approve, only from the
author's own team."""

RULES = {
    rule.id: rule for rule in (
        RuleInfo("GIT001", "unapproved-change", Severity.HIGH, "git",
                 "A commit in the range changes a protected path (`sod.protected`) without "
                 "the approvals it needs: an `Approved-by:`/`Reviewed-by:` trailer, or a "
                 "merge that brought it in, from a member of one of the approver groups "
                 "other than its author (`min_approvals` distinct people). A merge's own "
                 "changes (conflict resolutions, edits beyond the automatic merge) need "
                 "approval like any commit.",
                 "git", "Have the change approved by a member of a required group (review "
                 "and merge through the forge, which records the approval as a trailer or a "
                 "merge commit), or revert it.", None, _BY_TIER),
        RuleInfo("GIT002", "self-approved-change", Severity.HIGH, "git",
                 "A change to a protected path is approved only by its own author (or a "
                 "co-author, or another identity of the same person): an approval trailer "
                 "naming the author, or the author merging their own branch. Such approvals "
                 "do not count.",
                 "git", "Have someone else in a required group review and approve the "
                 "change; map a person's several identities with `sod.aliases`.",
                 None, _BY_TIER),
        RuleInfo("GIT003", "unsigned-commit", Severity.HIGH, "git",
                 "A commit that changes paths whose `sod.protected` entry has "
                 "`require_signed: true` carries no signature (no `gpgsig` header: "
                 "OpenPGP, SSH or X.509). Presence is checked, not validity: verifying a "
                 "signature needs the trusted keys, which the forge or `git verify-commit` "
                 "with the organisation's keyring checks.",
                 "git", "Sign commits (`git config commit.gpgsign true`, with a GPG or SSH "
                 "key registered at the forge) and re-create the unsigned ones.",
                 None, _BY_TIER),
        RuleInfo("GIT004", "protected-path-without-owners", Severity.HIGH, "git",
                 "A file under a protected path (at the tip of the range) has no owner in "
                 "CODEOWNERS, or there is no CODEOWNERS file: the forge will not ask an "
                 "owner to review changes to it.",
                 "git", "Add a CODEOWNERS line that gives the path an owner team (and "
                 "protect CODEOWNERS itself in `sod.protected`).", None, _BY_TIER),
        RuleInfo("GIT005", "owners-approve-own-changes", Severity.MEDIUM, "git",
                 "A change to a protected path was approved only by members of the code "
                 "owner group that its author belongs to: the group approves itself, and "
                 "no one outside it saw the change.",
                 "git", "Have a member of another approver group review changes the owning "
                 "team makes (for example finance IT for the platform team's changes), or "
                 "raise `min_approvals` and add a second approver group.",
                 None, _OWNERS_BY_TIER),
    )
}
