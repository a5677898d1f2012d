#!/bin/sh
# Stands in for Chromium in chromium_test. With --fake-exit it complains and exits,
# as a browser that can't start does; otherwise it never answers on its DevTools
# pipe and ignores it closing, as a hung browser does. Its PID (and process group)
# goes to $FAKE_CHROMIUM_PID_FILE when that is set.
if [ -n "${FAKE_CHROMIUM_PID_FILE:-}" ]; then
  echo $$ >"$FAKE_CHROMIUM_PID_FILE"
fi
case " $* " in
  *" --fake-exit "*)
    echo "fake chromium: cannot start" >&2
    exit 3
    ;;
esac
echo "fake chromium: hanging" >&2
exec sleep 60
