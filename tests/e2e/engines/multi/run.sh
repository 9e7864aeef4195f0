#!/bin/sh
cat /srv/greeting
