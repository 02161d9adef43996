"""Requesters' personal data: sealed in the log under a key per requester, erasable.

A requester's name, phone and national id never reach the log in plaintext. Intake seals
them (AES-GCM) under the requester's own data key; the key lives in a key store in MongoDB
(`keystore.py`, its own database, never part of the rebuildable read models), wrapped under
a key-encryption key kept outside MongoDB (`keks.py`), itself wrapped under the master key
(`SADA_MASTER_KEY`, `master.py`). Reporting opens a sealed
requester only for a role allowed to see personal data (`reporting/personal.py`). Erasing a
requester deletes its key (`erasure.py`): every copy of the ciphertext, in the log, the read
models, replays and exports, is then unreadable, for good once the key-encryption key next
rotates (`rotation.py`) and no copy of the deleted key (MongoDB's oplog, a backup) opens,
while the log's bytes, and so its hash chain, stay as they were. `scan.py` looks for
plaintext personal data anywhere.
"""
