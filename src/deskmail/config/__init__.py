"""config stage: the TOML configuration, its validation, and the secrets it points to."""

from deskmail.config.errors import ConfigError
from deskmail.config.loader import load_config
from deskmail.config.models import DeskmailConfig, JobConfig

__all__ = ["ConfigError", "DeskmailConfig", "JobConfig", "load_config"]
