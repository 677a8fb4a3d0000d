"""Operations on a running stack from the host: backups, restores, resets."""
