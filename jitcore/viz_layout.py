"""Layered drawing of a DAG (the Sugiyama scheme, without dummy nodes for long edges).

1. Layers by longest path from the sources; a source sits right above its first user, so
   parameters and constants do not all crowd the top row.
2. Order within each layer by barycenters: each node moves towards the mean position of its
   neighbours in the other layers, sweeping down (by operands) then up (by users), a few times.
3. Coordinates: nodes are packed in their order, then pulled towards their neighbours' centres
   without overlapping (a left-to-right and a right-to-left pass per sweep).

Every step is a loop over the nodes and edges (no recursion), about O(sweeps * E log E), so a
program of thousands of instructions lays out in a fraction of a second.
"""
from __future__ import annotations

H_GAP = 14      # between neighbours in a layer
V_GAP = 36      # between layers
SWEEPS = 4


def layout(items, edges, sweeps: int = SWEEPS):
    """`items`: [(key, width, height)] in a topological order; `edges`: [(source key,
    destination key)] (others, and self loops, are ignored). Returns ({key: (x, y)} of each
    item's top-left corner, width, height of the drawing)."""
    keys = [k for k, _, _ in items]
    size = {k: (w, h) for k, w, h in items}
    index = {k: i for i, k in enumerate(keys)}
    preds = [[] for _ in keys]
    succs = [[] for _ in keys]
    for s, d in edges:
        i, j = index.get(s), index.get(d)
        if i is None or j is None or i == j:
            continue
        if i > j:       # not topological: draw it upwards rather than fail
            i, j = j, i
        preds[j].append(i)
        succs[i].append(j)

    # 1. Layers.
    layer = [0] * len(keys)
    for j in range(len(keys)):
        if preds[j]:
            layer[j] = 1 + max(layer[i] for i in preds[j])
    for i in range(len(keys) - 1, -1, -1):
        if not preds[i] and succs[i]:
            layer[i] = max(0, min(layer[j] for j in succs[i]) - 1)
    n_layers = max(layer, default=-1) + 1
    rows = [[] for _ in range(n_layers)]
    for i in range(len(keys)):
        rows[layer[i]].append(i)

    # 2. Order: barycenter sweeps over normalized positions.
    pos = [0.0] * len(keys)

    def number(row):
        n = len(row)
        for k, i in enumerate(row):
            pos[i] = (k + 0.5) / n

    for row in rows:
        number(row)
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        order = range(1, n_layers) if down else range(n_layers - 2, -1, -1)
        for r in order:
            row = rows[r]
            near = preds if down else succs
            key = {}
            for i in row:
                nb = near[i]
                key[i] = sum(pos[j] for j in nb) / len(nb) if nb else pos[i]
            row.sort(key=lambda i: key[i])
            number(row)

    # 3. Coordinates: pack, then pull towards neighbours' centres.
    x = [0.0] * len(keys)
    width = [size[k][0] for k in keys]
    for row in rows:
        left = 0.0
        for i in row:
            x[i] = left
            left += width[i] + H_GAP
    span = max((x[r[-1]] + width[r[-1]] for r in rows if r), default=0.0)
    for row in rows:    # centre each packed row under the widest
        if row:
            shift = (span - (x[row[-1]] + width[row[-1]])) / 2
            for i in row:
                x[i] += shift
    near = [p + s for p, s in zip(preds, succs)]
    half = [w / 2 for w in width]
    for sweep in range(2 * sweeps):
        down = sweep % 2 == 0
        order = range(n_layers) if down else range(n_layers - 1, -1, -1)
        for r in order:
            row = rows[r]
            want = []
            for i in row:
                nb = near[i]
                if nb:
                    want.append(sum([x[j] + half[j] for j in nb]) / len(nb) - half[i])
                else:
                    want.append(x[i])
            # Left to right, then right to left: no overlap, each as near its wish as allowed.
            a = list(want)
            for k in range(1, len(row)):
                a[k] = max(a[k], a[k - 1] + width[row[k - 1]] + H_GAP)
            b = list(want)
            for k in range(len(row) - 2, -1, -1):
                b[k] = min(b[k], b[k + 1] - width[row[k]] - H_GAP)
            # Both keep the gaps, so their mean does too.
            for k, i in enumerate(row):
                x[i] = (a[k] + b[k]) / 2
    lo = min(x, default=0.0)
    y, top = [0.0] * len(keys), 0.0
    heights = []
    for row in rows:
        h = max((size[keys[i]][1] for i in row), default=0)
        for i in row:
            y[i] = top + (h - size[keys[i]][1]) / 2
        heights.append(h)
        top += h + V_GAP
    coords = {keys[i]: (x[i] - lo, y[i]) for i in range(len(keys))}
    total_w = max((x[i] - lo + width[i] for i in range(len(keys))), default=0.0)
    return coords, total_w, max(top - V_GAP, 0.0)
