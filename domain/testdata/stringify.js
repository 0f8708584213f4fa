// Writes the golden files of TestParseFlowsGolden with Node.js's own
// JSON.stringify: pretty.json as Node-RED writes flows.json with
// flowFilePretty, compact.json as it computes the revision from.
// Run from domain/: node testdata/stringify.js
const fs = require("fs");

const flows = [
    { id: "7d1f0c9a2b3e4f50", type: "tab", label: "Orders \u2014 ünïcode ✓ 😀", disabled: false, info: "# Notes\n\n<b>bold</b> & \"quoted\" \\ back\\slash", env: [] },
    {
        id: "a1b2c3d4e5f60718", type: "function", z: "7d1f0c9a2b3e4f50", name: "total \"order\"",
        func: "const t = msg.payload.items.reduce((a, i) => a + i.qty * i.price, 0);\nif (t > 1e3) {\n\tnode.warn(`large: ${t} \u20ac`);\n}\nreturn msg;",
        outputs: 1, timeout: 0, noerr: 0, initialize: "", finalize: "", libs: [], x: 320, y: 140,
        wires: [["b2c3d4e5f6071829", "c3d4e5f60718293a"]],
    },
    {
        id: "b2c3d4e5f6071829", type: "change", z: "7d1f0c9a2b3e4f50", name: "",
        rules: [{ t: "set", p: "payload.note", pt: "msg", to: "control \u0001\u001f\u007f tab\t cr\r ff\f bs\b", tot: "str" }],
        x: 540, y: 140, wires: [[]],
    },
    {
        id: "c3d4e5f60718293a", type: "debug", z: "7d1f0c9a2b3e4f50", name: "lone \ud800 and \udc00 surrogates, a pair \ud83d\ude00",
        nested: { deep: [[[{ a: null, b: true, c: false }]], {}], "": "empty key", "2": "integer keys first", "1": 1 },
        numbers: [0, -0, 1.5, -2.25e-7, 1e21, 123456789012, 0.1],
        separators: "line\u2028para\u2029", html: "</script><!-- & -->",
        x: 540, y: 200, wires: [],
    },
    { id: "d4e5f60718293a4b", type: "subflow", name: "Sub / flow", info: "", in: [{ x: 50, y: 30, wires: [{ id: "e5f60718293a4b5c" }] }], out: [] },
    { id: "e5f60718293a4b5c", type: "comment", z: "d4e5f60718293a4b", name: "   spaces   kept   ", info: "", x: 150, y: 30, wires: [] },
];

fs.writeFileSync(__dirname + "/pretty.json", JSON.stringify(flows, null, 4));
fs.writeFileSync(__dirname + "/compact.json", JSON.stringify(flows));
