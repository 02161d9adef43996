"""The embedded runner's key rotation: on start, then every SADA_KEK_ROTATION_HOURS.

`sada run` rotates the key-encryption key once at start when it is due (a new data dir gets
its first KEK before any key is made; keys of an older one, wrapped under the master key, are
migrated; an interrupted rotation is finished), then checks every few minutes and rotates when
the last rotation is SADA_KEK_ROTATION_HOURS old (24 by default), so an erasure is final
within a day. Deployments run `sada privacy rotate --if-due` from a scheduled job instead
(deploy/).
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from services.config import Settings
from services.privacy.crypto import MasterKeyError
from services.privacy.master import open_vault
from services.privacy.rotation import Rotation, RotationBusy, due, rotate

CHECK_SECONDS = 300.0


class ScheduledRotation:
    def __init__(self, settings: Settings, say: Callable[[str], None],
                 check_seconds: float = CHECK_SECONDS) -> None:
        self.settings = settings
        self.say = say
        self.check_seconds = check_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> Rotation | None:
        """Rotate if due; the rotation, or None. A failure is said, never raised: the next
        check tries again, and every key stays readable meanwhile."""
        try:
            vault = open_vault(self.settings)
        except MasterKeyError as exc:
            self.say(f"key rotation: {exc}")
            return None
        try:
            if not due(vault, self.settings.kek_rotation_hours):
                return None
            done = rotate(vault)
        except RotationBusy:
            return None
        except Exception as exc:  # noqa: BLE001 - said loudly, retried at the next check
            self.say(f"!!! key rotation failed ({type(exc).__name__}: {exc}); erasures are "
                     "not final until one succeeds. It is retried; `sada privacy rotate` "
                     "runs one now")
            return None
        finally:
            vault.close()
        self.say(f"rotated the key-encryption key ({done.rewrapped} requester keys wrapped "
                 "again; erasures until now are final)")
        return done

    def start(self) -> None:
        if self.settings.kek_rotation_hours <= 0:
            return
        self._thread = threading.Thread(target=self._loop, name="key-rotation", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(self.check_seconds):
            self.run_once()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
