"""Bytes to entries: everything that reads raw image bytes.

Sources (``auditor.sources``) decide where bytes come from and describe each layer as a
``layer_blob.LayerBlob``; this package decides how they are read. Which file to open:

- ``layer_blob``: the description a source hands over (index, media type or sniff,
  digests, where the bytes are: a file range, a stream to open, bytes passing by).
- ``layer_read``: the one entry point, ``LayerReader.read(blob)``, and its read paths.
- ``ranges``: blobs in files on disk (ranges, memory maps, small documents read whole).
- ``outer_tar``: image archives on disk (docker save, OCI archives) indexed by name.
- ``prefetch``: threads that read ahead (a chunk iterator, the engine's socket).
- ``digests``: sha256 as bytes pass, whole-file checks in background threads.
- ``decompress``: compression from a media type or magic bytes; decompressing readers.
- ``progress``: the byte-counter protocol every reader reports to.
- ``cursor``: bytes read forward (a memory map, a stream, a member of an outer tar).
- ``tarstream`` walks tar headers; ``layers`` reads one layer tar into entries, keeping
  the content prefixes that ``wants`` declared (matched with ``globs``); ``elf`` reads ELF
  facts while a file streams by; ``engine_wire`` speaks the Docker Engine's HTTP on its
  unix socket.
"""
