"""SSH public keys: a person registers one (/ssh_key); the containers they create get it for
root (Proxmox's ``ssh-public-keys``), so a lost password is not a lost container.

Proxmox writes the key into a new CT's root filesystem when it creates it (pve-container's
``create_vm`` runs ``post_create_hook($password, $ssh_keys)`` for a create only, not for a
restore). A clone or a restored twin is a copy of its source's filesystem: it has the keys its
source was made with.
"""

from __future__ import annotations

from bot.parsing_keys import PublicKey, parse_public_key
from bot.services.access import AccessService
from bot.services.errors import NotFound
from bot.store import Store


class KeyService:
    def __init__(self, store: Store, access: AccessService) -> None:
        self._store = store
        self._access = access

    def register(self, actor_id: int, key: PublicKey) -> PublicKey:
        """The asker's key from now on (it replaces the one before)."""
        self._access.policy.authorize(actor_id, "key.manage")
        self._store.ssh_keys.put(actor_id, key.line)
        self._store.audit.record(actor_id, "ssh_key", f"user:{actor_id}", "ok", str(key))
        return key

    def mine(self, actor_id: int) -> PublicKey | None:
        self._access.policy.authorize(actor_id, "key.manage")
        return self.key_of(actor_id)

    def remove(self, actor_id: int) -> None:
        self._access.policy.authorize(actor_id, "key.manage")
        if not self._store.ssh_keys.remove(actor_id):
            raise NotFound("You have no SSH key registered. /ssh_key <public key> adds one.")
        self._store.audit.record(actor_id, "ssh_key", f"user:{actor_id}", "removed")

    def key_of(self, user_id: int) -> PublicKey | None:
        """The key new containers of `user_id` get (for the services' own use)."""
        line = self._store.ssh_keys.get(user_id)
        return parse_public_key(line) if line else None
