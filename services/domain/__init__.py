"""The demand domain shared by routing and reporting: vocabulary and the state fold. No I/O."""
