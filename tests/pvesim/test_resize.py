"""PUT /nodes/{node}/lxc/{vmid}/resize as pve-container's resize_vm (src/PVE/API2/LXC.pm)."""

from __future__ import annotations

from pvesim.model import GIB


async def resize(api, vmid=200, **params):
    return await api.call("PUT", f"/nodes/pve1/lxc/{vmid}/resize", **params)


async def test_a_disk_grows_by_a_delta_or_to_a_size_in_a_resize_task(api):
    await api.create(vmid=200)  # rootfs local-lvm:8
    status, _, body = await resize(api, disk="rootfs", size="+4G")
    assert status == 200 and ":resize:200:" in body["data"]
    assert (await api.wait("pve1", body["data"]))["exitstatus"] == "OK"
    guest = api.sim.cluster.guests[200]
    assert guest.config["rootfs"].endswith(",size=12G") and guest.maxdisk == 12 * GIB
    volume = api.sim.cluster.nodes["pve1"].storages["local-lvm"].volumes["local-lvm:vm-200-disk-0"]
    assert volume.size == 12 * GIB
    upid = await api.ok("PUT", "/nodes/pve1/lxc/200/resize", disk="rootfs", size="12800M")
    assert (await api.wait("pve1", upid))["exitstatus"] == "OK"
    assert guest.config["rootfs"].endswith(",size=12800M")


async def test_what_pve_refuses_before_the_task(api):
    await api.create(vmid=200)
    for size, reason in (("4G", "unable to shrink disk size"),
                         ("8G", "disk is already at specified size"),
                         ("+0", "disk is already at specified size")):
        status, got, _ = await resize(api, disk="rootfs", size=size)
        assert (status, got) == (500, reason), size
    status, _, body = await resize(api, disk="rootfs", size="-1G")
    assert status == 400 and "size" in body["errors"]
    status, _, body = await resize(api, disk="sda", size="+1G")
    assert status == 400 and "disk" in body["errors"]
    status, got, body = await resize(api, disk="mp0", size="+1G")
    assert (status, got) == (500, "format error") and "volume" in body["errors"]
    status, got, _ = await resize(api, disk="rootfs", size="+1G", digest="0" * 40)
    assert (status, got) == (500, "detected modified configuration - file changed by other "
                                  "user? Try again.")
    api.sim.cluster.set_lock(200, "backup")
    status, got, _ = await resize(api, disk="rootfs", size="+1G")
    assert (status, got) == (500, "CT is locked (backup)")
    assert api.sim.cluster.guests[200].config["rootfs"].endswith(",size=8G")

