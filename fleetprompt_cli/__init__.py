"""fleetprompt: a pip-like package manager for FleetPrompt agent packages."""

__all__ = ["PLATFORM_VERSION", "__version__"]

__version__ = "0.1.0"

# The FleetPrompt platform version this release of the CLI targets. Packages
# declare the platform versions they support in `compatibility.platform`.
PLATFORM_VERSION = "2.4.0"
