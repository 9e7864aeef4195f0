"""What the image's entrypoint really runs, found without running it: the command, its
interpreters, ELF loader and libraries, and the runtimes' own files (``compute``), the
library search path (``libpath``), interpreter rules (``runtimes``) and the walk's
bookkeeping (``walk``)."""
