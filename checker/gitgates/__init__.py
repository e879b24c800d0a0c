"""Git gates: checks on the change history itself rather than on the manifests (docs/git-gates.md).

`checker.gitgates.sod` checks segregation of duties: changes to protected paths approved by
someone other than their author, signed when required, and owned in CODEOWNERS.
"""
