"""gitops-checker: policy and drift checks for Kubernetes GitOps estates."""

__version__ = "0.1.0"
