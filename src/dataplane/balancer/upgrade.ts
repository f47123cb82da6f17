// upgrade: load another build reusing every pinned map and swap it in atomically
// (XDP_FLAGS_REPLACE with the old program's fd): no flow loses its real.
import { renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { BalancerHandle } from '../kernel/handle.js';
import { xdpAttached } from '../kernel/interfaces.js';
import { XDP_FLAGS, objPin, progInfo, xdpAttach } from '../kernel/libbpf.js';
import { MapShapeError, ProgramReplacedError } from '../errors.js';
import { loadBalancer, type LoadedBalancer } from '../kernel/loader.js';
import { PROG_PIN, writeMeta } from '../kernel/pins.js';
import type { AttachedBalancer } from './attach.js';
import { requireOwnWritable, requireRoot } from './checks.js';
import { PROG_PIN_NEW, handleFrom, openHcMaps, readMetaSafe } from './handles.js';
import { modeFlag } from './xdp.js';

/** Swaps `objectPath` in for the handle's program. Returns the new handle; `handle` is closed. */
export function upgrade(handle: BalancerHandle, objectPath: string): AttachedBalancer {
  requireOwnWritable(handle, 'upgrade', { pinned: true });
  requireRoot('upgrade', `balancer on ${handle.intf}`);
  const dir = handle.pinDir!;
  const warnings: string[] = [];
  const now = xdpAttached(handle.ifindex, `interface ${handle.intf}`);
  if (now.progId !== handle.progId) {
    throw new ProgramReplacedError('upgrade', `balancer on ${handle.intf}`, now.progId ? `program ${now.progId} replaced ours (${handle.progId}) meanwhile: not upgrading` : 'our program is no longer attached');
  }
  const reuse = new Map<string, number>();
  for (const [name, m] of handle.maps.all) reuse.set(name, m.fd);
  let loaded: LoadedBalancer;
  try {
    loaded = loadBalancer(objectPath, { reuse, keepLruMapping: true, forwardingCpus: handle.forwardingCpus.length ? handle.forwardingCpus : undefined });
  } catch (e) {
    if (e instanceof MapShapeError) {
      throw new MapShapeError('upgrade', objectPath, `upgrade ${objectPath}: its maps differ in shape from the pinned ones (${e.message}): an in-place upgrade needs the same map sizes`);
    }
    throw e;
  }
  try {
    // Maps the new object adds: pin them next to the others.
    for (const [name, m] of loaded.maps.all) if (!reuse.has(name)) objPin(m.fd, join(dir, name));
    const mode = handle.mode === 'unknown' ? now.mode : handle.mode;
    xdpAttach(handle.ifindex, loaded.progFd, XDP_FLAGS.REPLACE | modeFlag(mode), handle.progFd, `interface ${handle.intf}`);
    // Re-pin the program: pin the new one aside, then rename over the old pin.
    const tmp = join(dir, PROG_PIN_NEW);
    rmSync(tmp, { force: true });
    objPin(loaded.progFd, tmp);
    try {
      renameSync(tmp, join(dir, PROG_PIN));
    } catch {
      rmSync(join(dir, PROG_PIN), { force: true });
      rmSync(tmp, { force: true });
      objPin(loaded.progFd, join(dir, PROG_PIN));
    }
    const meta = readMetaSafe(dir);
    if (meta) writeMeta(dir, { ...meta, objectPath });
    const hc = handle.healthcheck;
    // The old handle's maps stay referenced by the pins and the new program; its fds are released.
    const hcMaps = hc ? openHcMaps(dir, false) : null;
    handle.close();
    const l = loaded;
    const info = progInfo(l.progFd);
    if (info.tag === handle.progTag) warnings.push(`the new program has the same tag (${info.tag}) as the old one`);
    const nh = handleFrom({
      intf: handle.intf, ifindex: handle.ifindex, mode, progFd: l.progFd, info, all: l.maps.all, owner: 'katran-tui', readOnly: false,
      pinDir: dir, objectPath, attachedAt: meta?.attachedAt, forwardingCpus: handle.forwardingCpus,
      healthcheck: hc && hcMaps ? { ...hc, maps: hcMaps } : null, onClose: () => l.close(), what: objectPath,
    });
    return Object.assign(nh, { warnings });
  } catch (e) {
    loaded.close();
    throw e;
  }
}
