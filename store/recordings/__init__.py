"""Call recordings: storage of the files, their rows, retention, holds and verification."""
