package mongo

import (
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestJSONToBSONTypes checks the BSON types that the Node.js driver would
// store for the same JSON.
func TestJSONToBSONTypes(t *testing.T) {
	raw, err := jsonToBSON([]byte(`{"i":1,"neg":-7,"big":2147483648,"min":-2147483648,"f":1.5,"e":1e3,"dot":2.0,
		"s":"x","t":true,"n":null,"o":{"a":[1,"b",{"c":false}]},"huge":1e300}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bson.Type{
		"i": bson.TypeInt32, "neg": bson.TypeInt32, "big": bson.TypeDouble, "min": bson.TypeInt32,
		"f": bson.TypeDouble, "e": bson.TypeInt32, "dot": bson.TypeInt32, "s": bson.TypeString,
		"t": bson.TypeBoolean, "n": bson.TypeNull, "o": bson.TypeEmbeddedDocument, "huge": bson.TypeDouble,
	}
	elems, err := raw.Elements()
	if err != nil {
		t.Fatal(err)
	}
	if len(elems) != len(want) {
		t.Fatalf("%d elements, want %d: %s", len(elems), len(want), raw)
	}
	for _, e := range elems {
		if got := e.Value().Type; got != want[e.Key()] {
			t.Errorf("%s: type %v, want %v", e.Key(), got, want[e.Key()])
		}
	}
	if v := raw.Lookup("o", "a", "2", "c"); v.Type != bson.TypeBoolean || v.Boolean() {
		t.Errorf("o.a.2.c = %v", v)
	}
	if v := raw.Lookup("big"); v.Double() != 2147483648 {
		t.Errorf("big = %v", v)
	}
}

// TestJSONRoundTrip checks JSON → BSON → JSON: compact JSON comes back
// byte for byte, other spellings come back as JSON.stringify writes them.
func TestJSONRoundTrip(t *testing.T) {
	cases := []struct{ in, out string }{
		{`{"a":1}`, `{"a":1}`},
		{`{}`, `{}`},
		{`{"z":1,"a":2,"m":{"y":[],"b":{}}}`, `{"z":1,"a":2,"m":{"y":[],"b":{}}}`},
		{" {\n \"a\" : [ 1 , 2 ] ,\t\"b\":\"c\" } ", `{"a":[1,2],"b":"c"}`},
		{`{"n":1.0,"m":1e2,"k":-0,"x":0.1,"y":1e21,"z":1.5e-7,"w":123456789012345680000,"v":0.000001}`,
			`{"n":1,"m":100,"k":0,"x":0.1,"y":1e+21,"z":1.5e-7,"w":123456789012345680000,"v":0.000001}`},
		{`{"big":12345678901234567890,"neg":-2.5e-10,"p":3.141592653589793}`, `{"big":12345678901234567000,"neg":-2.5e-10,"p":3.141592653589793}`},
		// a duplicate key keeps its first position and its last value
		{`{"a":1,"b":2,"a":{"x":[3]},"c":4}`, `{"a":{"x":[3]},"b":2,"c":4}`},
		{`{"s":"\u00e9\ud83d\ude00\n\t\"\\\/\u0001<>&\u2028"}`, "{\"s\":\"é😀\\n\\t\\\"\\\\/\\u0001<>&\u2028\"}"},
		// lone surrogates become U+FFFD, as Node.js encodes them in UTF-8
		{`{"s":"a\ud800b\udc00"}`, "{\"s\":\"a\uFFFDb\uFFFD\"}"},
		{`{"é":{"ключ":true,"k":false,"n":null}}`, `{"é":{"ключ":true,"k":false,"n":null}}`},
	}
	for _, c := range cases {
		raw, err := jsonToBSON([]byte(c.in))
		if err != nil {
			t.Errorf("jsonToBSON(%s): %v", c.in, err)
			continue
		}
		if err := raw.Validate(); err != nil {
			t.Errorf("jsonToBSON(%s) is not valid BSON: %v", c.in, err)
		}
		out, err := appendDocJSON(nil, raw)
		if err != nil {
			t.Errorf("appendDocJSON(%s): %v", c.in, err)
			continue
		}
		if string(out) != c.out {
			t.Errorf("round trip of %s:\n got %s\nwant %s", c.in, out, c.out)
		}
	}
}

// TestDuplicateKeysInLargeObject exercises the map index of large objects.
func TestDuplicateKeysInLargeObject(t *testing.T) {
	var sb strings.Builder
	sb.WriteString("{")
	for i := range 40 {
		sb.WriteString(`"k` + string(rune('a'+i%26)) + string(rune('a'+i/26)) + `":` + "1,")
	}
	sb.WriteString(`"kaa":"last","kzz":2}`)
	raw, err := jsonToBSON([]byte(sb.String()))
	if err != nil {
		t.Fatal(err)
	}
	elems, _ := raw.Elements()
	if len(elems) != 41 || elems[0].Key() != "kaa" || elems[0].Value().StringValue() != "last" || elems[40].Key() != "kzz" {
		t.Errorf("got %d elements, first %s, last %s", len(elems), elems[0], elems[len(elems)-1])
	}
}

func TestJSONToBSONErrors(t *testing.T) {
	for _, in := range []string{``, `[]`, `"x"`, `{`, `{"a"}`, `{"a":}`, `{"a":1,}`, `{"a":01}`, `{"a":1.}`,
		`{"a":1e}`, `{"a":-}`, `{"a":tru}`, `{"a":"x}`, `{"a":"\x"}`, `{"a":"\u12"}`, "{\"a\":\"\x01\"}",
		`{"a":1}x`, `{"a":1e400}`, `{"a\u0000b":1}`, `{a:1}`} {
		if _, err := jsonToBSON([]byte(in)); !errors.Is(err, errBadJSON) {
			t.Errorf("jsonToBSON(%q): err = %v, want errBadJSON", in, err)
		}
	}
	if _, err := jsonArrayToBSON([]byte(`[{"$match":{}},1]`)); !errors.Is(err, errBadJSON) {
		t.Errorf("pipeline with a non-object stage: %v", err)
	}
	docs, err := jsonArrayToBSON([]byte(` [ {"$limit":1} , {"$count":"n"} ] `))
	if err != nil || len(docs) != 2 || docs[1].Lookup("$count").StringValue() != "n" {
		t.Errorf("jsonArrayToBSON = %v, %v", docs, err)
	}
	if docs, err := jsonArrayToBSON([]byte(`[]`)); err != nil || len(docs) != 0 {
		t.Errorf("empty pipeline = %v, %v", docs, err)
	}
}

// TestBSONToJSONOtherTypes checks how values the Node.js driver can store,
// but JSON cannot hold, are rendered.
func TestBSONToJSONOtherTypes(t *testing.T) {
	oid, _ := bson.ObjectIDFromHex("5f1d7f4e8a1b2c3d4e5f6a7b")
	dec, _ := bson.ParseDecimal128("1.25")
	doc := bson.D{
		{Key: "id", Value: oid},
		{Key: "when", Value: bson.NewDateTimeFromTime(time.Date(2024, 3, 5, 6, 7, 8, 9e6, time.UTC))},
		{Key: "long", Value: int64(1) << 40},
		{Key: "bin", Value: bson.Binary{Subtype: 0, Data: []byte("hi")}},
		{Key: "dec", Value: dec},
		{Key: "ts", Value: bson.Timestamp{T: 7, I: 2}},
		{Key: "re", Value: bson.Regex{Pattern: "^a", Options: "i"}},
		{Key: "undef", Value: bson.Undefined{}},
		{Key: "min", Value: bson.MinKey{}},
		{Key: "max", Value: bson.MaxKey{}},
		{Key: "nan", Value: math.NaN()},
		{Key: "inf", Value: math.Inf(-1)},
		{Key: "sym", Value: bson.Symbol("s")},
		{Key: "code", Value: bson.JavaScript("f()")},
		{Key: "scope", Value: bson.CodeWithScope{Code: "g()", Scope: bson.D{{Key: "x", Value: 1}}}},
		{Key: "ptr", Value: bson.DBPointer{DB: "db.c", Pointer: oid}},
		{Key: "arr", Value: bson.A{int32(1), 2.5, "x", bson.D{}}},
	}
	raw, err := bson.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	out, err := appendDocJSON(nil, raw)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"5f1d7f4e8a1b2c3d4e5f6a7b","when":"2024-03-05T06:07:08.009Z","long":1099511627776,` +
		`"bin":"aGk=","dec":{"$numberDecimal":"1.25"},"ts":{"$timestamp":{"t":7,"i":2}},` +
		`"re":{"$regex":"^a","$options":"i"},"undef":null,"min":{"$minKey":1},"max":{"$maxKey":1},` +
		`"nan":null,"inf":null,"sym":"s","code":"f()","scope":"g()","ptr":"db.c","arr":[1,2.5,"x",{}]}`
	if string(out) != want {
		t.Errorf("got  %s\nwant %s", out, want)
	}
	if !json.Valid(out) {
		t.Error("output is not valid JSON")
	}
	for _, bad := range [][]byte{nil, {5, 0, 0, 0}, {6, 0, 0, 0, 0x10, 0}, {12, 0, 0, 0, 0x02, 'a', 0, 9, 0, 0, 0, 0}} {
		if _, err := appendDocJSON(nil, bad); !errors.Is(err, errBadBSON) {
			t.Errorf("appendDocJSON(%v): err = %v, want errBadBSON", bad, err)
		}
	}
}

func TestAppendJSNumber(t *testing.T) {
	cases := map[float64]string{
		0: "0", 1: "1", -1: "-1", 0.5: "0.5", 100: "100", 1e20: "100000000000000000000", 1e21: "1e+21",
		1.5e21: "1.5e+21", 1e-6: "0.000001", 1e-7: "1e-7", 1.25e-7: "1.25e-7", 123.456: "123.456",
		-0.0001: "-0.0001", 9007199254740993: "9007199254740992", 1.7976931348623157e308: "1.7976931348623157e+308",
		5e-324: "5e-324", 4294967296.5: "4294967296.5", 1234567890123456789: "1234567890123456800",
	}
	for f, want := range cases {
		if got := string(appendJSNumber(nil, f)); got != want {
			t.Errorf("appendJSNumber(%v) = %s, want %s", f, got, want)
		}
	}
}

// FuzzJSONToBSON checks that any JSON object encoding/json accepts converts
// to valid BSON and back to the same JSON value (numbers compared as
// doubles, as JavaScript holds them).
func FuzzJSONToBSON(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"a":[1,{"b":null}],"c":"\u00e9"}`, `{"x":1e300,"y":-0.0,"a":1,"a":2}`, `{"":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var want map[string]any
		if json.Unmarshal(in, &want) != nil || want == nil {
			return
		}
		raw, err := jsonToBSON(in)
		if err != nil {
			// keys with U+0000 and numbers out of range are refused
			if strings.Contains(err.Error(), "U+0000") || strings.Contains(err.Error(), "out of range") {
				return
			}
			t.Fatalf("jsonToBSON(%q): %v", in, err)
		}
		if err := raw.Validate(); err != nil {
			t.Fatalf("jsonToBSON(%q) is not valid BSON: %v", in, err)
		}
		out, err := appendDocJSON(nil, raw)
		if err != nil {
			t.Fatalf("appendDocJSON: %v", err)
		}
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("output %q is not JSON: %v", out, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round trip of %q:\n got %v\nwant %v", in, got, want)
		}
	})
}
