// A JavaScript transaction function. `count PATH` increments the decimal counter at PATH,
// creating it at 1; the Python and Rust counters return the same operations, byte for
// byte, on the same snapshot.
import { NoNode, Refuse, TxnFn, create, exportTxnFn, set } from 'ballot-sdk';
import * as snapshot from 'ballot-sdk/snapshot';

class Counter extends TxnFn {
  apply(args) {
    const words = new TextDecoder().decode(Uint8Array.from(args)).split(/\s+/).filter(Boolean);
    if (words.length !== 2 || words[0] !== 'count') {
      throw new Refuse(`expected \`count PATH\`, got ${JSON.stringify(words)}`);
    }
    const path = words[1];
    let data;
    let stat;
    try {
      [data, stat] = snapshot.get(path);
    } catch (e) {
      if (e instanceof NoNode) return [create(path, '1')];
      throw e;
    }
    const count = Number(new TextDecoder().decode(data)) + 1;
    return [set(path, String(count), stat.dataVersion)];
  }
}

export const { apply } = exportTxnFn(Counter);
