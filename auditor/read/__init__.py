"""Bytes to entries: everything that reads raw image bytes.

``tarstream`` walks tar headers; ``blobs`` turns blobs into checked, decompressed byte
streams; ``layers`` reads one layer tar into entries, keeping the content prefixes that
``wants`` declared (matched with ``globs``); ``elf`` reads ELF facts while a file streams
by; ``engine_wire`` speaks the Docker Engine's HTTP on its unix socket. Sources
(``auditor.sources``) decide where bytes come from; this package decides how they are read.
"""
