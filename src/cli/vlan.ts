// vlan add / del / mac / list on a running balancer, and the --vlan / --vlan-mac options of attach.
// Syntax from abi.ts, every rule in rules.ts / the planner: the CLI only parses and prints.
import { Command, Option } from 'commander';
import { formatMac, parseMac, parseVlan, parseVlanMapping, parseVlanAttach, formatVlan, type VlanMappingText } from '../dataplane/abi.js';
import { VlanUnavailableError } from '../dataplane/types.js';
import type { AttachRequest, Dataplane } from '../dataplane/types.js';
import type { Ctx } from './context.js';
import { ensureWritable, printChange } from './balancer.js';
import { table } from './format.js';

interface ChangeFlags { dryRun?: boolean; json?: boolean }


const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

/** attach's VLAN options (repeatable). */
export function vlanAttachOptions(): Option[] {
  return [
    new Option('--vlan <in[:out]>', 'balance VIP traffic tagged IN, send it back tagged OUT (default IN); 802.1ad as OUTER.INNER, e.g. 100.573:100.574; repeatable').argParser(collect),
    new Option('--vlan-mac <vlan=mac>', 'gateway MAC of egress VLAN OUT (default: --default-mac), e.g. 574=58:e4:34:56:46:e0; repeatable').argParser(collect),
  ];
}

/** --vlan / --vlan-mac into the attach request (syntax only; the rules run in the dataplane before anything is attached). */
export function addVlansToRequest(req: AttachRequest, vlans: string[] | undefined, macs: string[] | undefined): void {
  Object.assign(req, parseVlanAttach(vlans ?? [], macs ?? []));
}

/** One line per mapping, as the header and `vlan list` say it. */
export function vlanLine(v: VlanMappingText): string {
  return `${v.ingress} -> ${v.egress} via ${v.mac ?? 'default MAC'}`;
}

function requireVlans(dp: Dataplane): VlanMappingText[] {
  const v = dp.vlans();
  if (v === null) throw new VlanUnavailableError('open VLAN maps of', dp.info().intf);
  return v;
}


async function change(ctx: Ctx, what: string, f: ChangeFlags, run: (dp: Dataplane) => ReturnType<Dataplane['addVlan']>): Promise<void> {
  ensureWritable(ctx);
  ctx.requireRoot(what);
  await ctx.withDataplane({ write: true }, (dp) => {
    requireVlans(dp);
    printChange(ctx, run(dp), f);
  });
}

export async function vlanAdd(ctx: Ctx, mapping: string, f: ChangeFlags & { mac?: string; replace?: boolean }): Promise<void> {
  const m = parseVlanMapping(mapping);
  const text = `${formatVlan(m.ingress)}:${formatVlan(m.egress)}`;
  const mac = f.mac !== undefined ? formatMac(parseMac(f.mac)) : undefined;
  await change(ctx, 'vlan add', f, (dp) => dp.addVlan(text, mac, { dryRun: !!f.dryRun, replace: !!f.replace }));
}

export async function vlanDel(ctx: Ctx, vlan: string, f: ChangeFlags): Promise<void> {
  const v = formatVlan(parseVlan(vlan, 'ingress VLAN'));
  await change(ctx, 'vlan del', f, (dp) => dp.removeVlan(v, { dryRun: !!f.dryRun }));
}

export async function vlanMac(ctx: Ctx, vlan: string, macText: string, f: ChangeFlags): Promise<void> {
  const v = formatVlan(parseVlan(vlan, 'egress VLAN'));
  const mac = formatMac(parseMac(macText));
  await change(ctx, 'vlan mac', f, (dp) => dp.setVlanMac(v, mac, { dryRun: !!f.dryRun }));
}

export async function vlanList(ctx: Ctx, f: { json?: boolean }): Promise<void> {
  ctx.requireRoot('vlan list');
  await ctx.withDataplane({ write: false }, (dp) => {
    const vlans = requireVlans(dp);
    const defaultMac = dp.getDefaultMac();
    if (f.json) {
      ctx.out(JSON.stringify({ intf: dp.info().intf, defaultMac, vlans: vlans.map((v) => ({ ...v, gateway: v.mac ?? defaultMac })) }));
      return;
    }
    if (!vlans.length) {
      ctx.out('no VLAN mappings: tagged frames pass to the host unbalanced (add one: katran-tui vlan add 573:574)');
      return;
    }
    ctx.out(table(['IN', 'OUT', 'GATEWAY MAC'], vlans.map((v) => [v.ingress, v.egress, v.mac ?? `${defaultMac ?? 'none'} (default)`])));
  });
}

/** The `vlan` command group. */
export function addVlanCommands(program: Command, ctxOf: (cmd: Command) => Ctx): void {
  const opts = <T>(cmd: Command) => cmd.optsWithGlobals() as T;
  const vlan = program.command('vlan').description('VLAN mappings (802.1Q / 802.1ad in native mode): list (default), add, del, mac');
  vlan.command('list', { isDefault: true }).description('print the VLAN mappings').option('--json', 'print one JSON document')
    .action(async (_o, cmd: Command) => vlanList(ctxOf(cmd), opts(cmd)));
  vlan.command('add').argument('<in[:out]>', 'e.g. 573, 573:574, 100.573:100.574')
    .description('balance VIP traffic tagged IN and send it back tagged OUT (one transaction)')
    .option('--mac <mac>', 'gateway MAC of the egress VLAN (default: the one it already has, else the default MAC)')
    .option('--replace', 'change the mapping of an ingress VLAN that exists')
    .option('--dry-run', 'validate and show the change; write nothing').option('--json', 'print the result as JSON')
    .action(async (m: string, _o, cmd: Command) => vlanAdd(ctxOf(cmd), m, opts(cmd)));
  vlan.command('del').argument('<in>', 'the ingress VLAN, e.g. 573 or 100.573')
    .description('stop balancing a VLAN (its VIP traffic passes to the host again)')
    .option('--dry-run', 'validate and show the change; write nothing').option('--json', 'print the result as JSON')
    .action(async (v: string, _o, cmd: Command) => vlanDel(ctxOf(cmd), v, opts(cmd)));
  vlan.command('mac').argument('<out>', 'the egress VLAN').argument('<mac>', 'its gateway MAC, e.g. 58:e4:34:56:46:e0')
    .description('set the gateway MAC of an egress VLAN (every mapping that leaves on it)')
    .option('--dry-run', 'validate and show the change; write nothing').option('--json', 'print the result as JSON')
    .action(async (v: string, m: string, _o, cmd: Command) => vlanMac(ctxOf(cmd), v, m, opts(cmd)));
}
