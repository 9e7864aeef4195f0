# auditor as an image: `docker build` of this file, with the wheels beside it (see
# .ci/self-image.sh, or `pip wheel . --wheel-dir wheels` then `docker build .`; the build
# needs no index, only the Debian mirror of its base). `auditor scan --policy strict`
# passes the result: no shell, no package manager, no setuid file, a non-root user.
#
#   docker save app:1.0 | docker run --rm -i auditor scan docker-archive:- --policy default

# -- build: Python, the venv from the wheels, and the files the runtime needs ------------
FROM debian:bookworm AS build
# .ci/self-image.sh removes this stage's image (the legacy builder keeps it) by this label
LABEL org.auditor.self-image.stage=build
RUN apt-get update -q \
 && apt-get install -y -q --no-install-recommends python3 python3-venv ca-certificates binutils \
 && rm -rf /var/lib/apt/lists/*
COPY wheels/ /wheels/
RUN python3 -m venv /opt/auditor \
 && /opt/auditor/bin/pip install --no-index --no-cache-dir --find-links /wheels auditor \
 && /opt/auditor/bin/pip uninstall -y -q pip setuptools \
 && rm -f /opt/auditor/bin/activate* /opt/auditor/bin/Activate.ps1
# The runtime tree: the interpreter, its standard library (without what installs or needs
# a display: ensurepip, venv, idlelib, tkinter, the tests), the venv, every shared object
# they load as ldd resolves it, CA certificates for an engine over TLS, a non-root
# account, all compiled once so that a read-only container starts fast.
RUN set -eu; root=/rootfs; lib=/usr/lib/python3.11; \
    mkdir -p $root/etc $root/tmp $root/usr/lib64; \
    ln -s usr/lib $root/lib; ln -s usr/lib64 $root/lib64; \
    cp -a /usr/lib64/ld-linux-x86-64.so.2 $root/usr/lib64/; \
    cp -a --parents /usr/bin/python3 /usr/bin/python3.11 /opt/auditor $lib \
      /etc/ssl/certs/ca-certificates.crt $root/; \
    for gone in ensurepip venv idlelib tkinter turtledemo lib2to3 pydoc_data test distutils \
                sqlite3 dbm curses config-3.11-x86_64-linux-gnu lib-dynload/_dbm.* \
                lib-dynload/_gdbm.* lib-dynload/_sqlite3.* lib-dynload/_curses* \
                lib-dynload/readline.* lib-dynload/_tkinter.*; do rm -rf $root$lib/$gone; done; \
    rm -f $root/opt/auditor/lib/python3.11/site-packages/zstandard/_cffi.*; \
    find $root -type f -name '*.so*' -exec strip --strip-unneeded {} +; \
    find $root/usr/bin/python3.11 $root$lib/lib-dynload $root/opt/auditor -type f \
      \( -name '*.so' -o -name '*.so.*' -o -name python3.11 \) -exec ldd {} + 2>/dev/null \
      | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\/.*ld-linux/ {print $1}' \
      | sort -u | while read -r so; do \
          real=$(readlink -f "$so"); cp -a --parents "$real" $root/; \
          link="$(dirname "$real")/$(basename "$so")"; \
          if [ "$link" != "$real" ]; then cp -a --parents "$link" $root/; fi; \
        done; \
    python3 -m compileall -q -j0 -s $root -p / $root$lib $root/opt/auditor >/dev/null; \
    printf 'auditor:x:10001:10001:auditor:/nonexistent:/nonexistent\n' > $root/etc/passwd; \
    printf 'auditor:x:10001:\n' > $root/etc/group; \
    chmod 1777 $root/tmp

# -- runtime: that tree on nothing ------------------------------------------------------
FROM scratch
COPY --from=build /rootfs/ /
ENV PATH=/opt/auditor/bin LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["/opt/auditor/bin/auditor"]
CMD ["--help"]
