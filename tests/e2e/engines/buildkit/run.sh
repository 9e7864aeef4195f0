#!/bin/sh
cat /etc/app.conf
