"""The one reader of an image's history: ``created_by`` strings back to Dockerfile
instructions and the settings they record (``created_by``), history entries to build steps
and layers (``steps``), and the commands inside a RUN script (``shell``).

Detectors, secrets masking and attribution all read history through these modules, so a
builder's new shape is taught in one place.
"""

from auditor.history.created_by import (
    INSTRUCTIONS,
    CreatedBy,
    created_by_text,
    parse_created_by,
    recorded_env,
    recorded_settings,
)
from auditor.history.mounts import RunMount, mounted, mounts_of_flags, parse_mount
from auditor.history.shell import Command, brief, iter_commands, operands, split_words
from auditor.history.steps import Step, build_steps, last_step

__all__ = ["INSTRUCTIONS", "Command", "CreatedBy", "RunMount", "Step", "brief", "build_steps",
           "created_by_text", "iter_commands", "last_step", "mounted", "mounts_of_flags",
           "operands", "parse_created_by", "parse_mount", "recorded_env", "recorded_settings",
           "split_words"]
