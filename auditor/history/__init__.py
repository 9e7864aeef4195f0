"""The one reader of an image's history: ``created_by`` strings back to build steps, and
the commands inside a RUN script (``steps``)."""
