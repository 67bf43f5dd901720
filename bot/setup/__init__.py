"""Set-up helpers run from a shell: `python -m bot.setup <what> ...`.

`virtualbox`: the VBoxManage commands that build the lab's Proxmox VE VM behind NAT.
"""
