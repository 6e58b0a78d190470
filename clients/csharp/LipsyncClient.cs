// LipsyncClient: a C# client of `lipsync serve` (Unity, Godot's C#, any .NET), in one file.
//
// `lipsync serve` speaks Japanese text (or another TTS's audio) and sends the mouth's weights
// over a WebSocket at ws://127.0.0.1:50100/lipsync, as JSON text frames; the protocol is
// lipsync/serve/schema.json. This file needs only the .NET base library (System.Net.WebSockets
// and a small JSON reader below): no NuGet package, no Unity package.
//
//   var client = await LipsyncClient.ConnectAsync(new Uri("ws://127.0.0.1:50100/lipsync"));
//   await client.SayAsync("s1", "こんにちは", map: "rpm", fps: 30);
//   while (true) {
//       LipsyncMessage m = await client.ReceiveAsync();
//       if (m.Type == "frame") { /* m.T: seconds from the first sample; m.Weights: morph -> 0..1 */ }
//       else if (m.Type == "ended" && m.Id == "s1") break;
//       else if (m.Type == "error") throw new Exception(m.Message);
//   }
//
// In Unity: run the loop above in a Task (not on the main thread), put each frame's weights in a
// ConcurrentQueue, and in Update() take the newest and call
// skinnedMeshRenderer.SetBlendShapeWeight(index, weight * 100) (Unity's blend shapes are 0-100;
// find each index once with sharedMesh.GetBlendShapeIndex(name)). With the "rpm" map the names
// are a Ready Player Me avatar's (viseme_aa ...). A frame arrives when its sample plays on the
// server's sound device ("audio": "local", the default); with "audio": "client" the server
// sends the sound and keyframes instead ("speech" messages) for your engine to play.
// WebGL builds have no ClientWebSocket: use a browser WebSocket there.

using System;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;

namespace Lipsync
{
    /// <summary>One message from the server: its type, request id and the fields lipsync uses.</summary>
    public sealed class LipsyncMessage
    {
        public string Type;                 // hello, started, frame, speech, ended, error
        public string Id;                   // the request this message is about (null for hello)
        public double T;                    // frame: seconds from the utterance's first sample
        public Dictionary<string, double> Weights = new Dictionary<string, double>();  // frame
        public bool Stopped;                // ended: cut short (stop, interrupt, client gone)
        public string Code, Message;        // error
        public List<string> Maps = new List<string>();  // hello: the named maps
        public Dictionary<string, object> Raw;          // everything, as parsed
    }

    /// <summary>A connection to `lipsync serve`. Not thread-safe: one reader, one writer.</summary>
    public sealed class LipsyncClient : IDisposable
    {
        readonly ClientWebSocket socket;
        readonly byte[] buffer = new byte[64 * 1024];
        public LipsyncMessage Hello { get; private set; }

        LipsyncClient(ClientWebSocket socket) { this.socket = socket; }

        /// <summary>Connect and read the server's hello (its version, maps and sample rate).</summary>
        public static async Task<LipsyncClient> ConnectAsync(Uri uri, CancellationToken cancel = default(CancellationToken))
        {
            var socket = new ClientWebSocket();
            await socket.ConnectAsync(uri, cancel);
            var client = new LipsyncClient(socket);
            client.Hello = await client.ReceiveAsync(cancel);
            if (client.Hello.Type != "hello") throw new IOException("lipsync: expected hello, got " + client.Hello.Type);
            return client;
        }

        /// <summary>Speak text. Optional: a named map ("vrm", "rpm", ...), frames a second,
        /// intensity (0-3), per-morph gains, interrupt what plays.</summary>
        public Task SayAsync(string id, string text, string map = null, double? fps = null, double? intensity = null,
                             IDictionary<string, double> gains = null, bool interrupt = false,
                             CancellationToken cancel = default(CancellationToken))
        {
            var json = new StringBuilder("{\"type\":\"say\",\"id\":");
            Json.Write(json, id);
            json.Append(",\"text\":");
            Json.Write(json, text);
            if (map != null) { json.Append(",\"map\":"); Json.Write(json, map); }
            if (fps.HasValue) json.Append(",\"fps\":").Append(fps.Value.ToString("R", CultureInfo.InvariantCulture));
            if (intensity.HasValue)
                json.Append(",\"intensity\":").Append(intensity.Value.ToString("R", CultureInfo.InvariantCulture));
            if (gains != null)
            {
                json.Append(",\"gains\":{");
                var first = true;
                foreach (var pair in gains)
                {
                    if (!first) json.Append(',');
                    first = false;
                    Json.Write(json, pair.Key);
                    json.Append(':').Append(pair.Value.ToString("R", CultureInfo.InvariantCulture));
                }
                json.Append('}');
            }
            if (interrupt) json.Append(",\"interrupt\":true");
            json.Append('}');
            return SendAsync(json.ToString(), cancel);
        }

        /// <summary>Stop this client's speech, playing and queued (each ends with stopped).</summary>
        public Task StopAsync(CancellationToken cancel = default(CancellationToken))
        {
            return SendAsync("{\"type\":\"stop\"}", cancel);
        }

        Task SendAsync(string text, CancellationToken cancel)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            return socket.SendAsync(new ArraySegment<byte>(bytes), WebSocketMessageType.Text, true, cancel);
        }

        /// <summary>The next message (a whole text frame, however many reads it takes).</summary>
        public async Task<LipsyncMessage> ReceiveAsync(CancellationToken cancel = default(CancellationToken))
        {
            using (var whole = new MemoryStream())
            {
                while (true)
                {
                    var got = await socket.ReceiveAsync(new ArraySegment<byte>(buffer), cancel);
                    if (got.MessageType == WebSocketMessageType.Close)
                        throw new IOException("lipsync: the server closed the connection");
                    whole.Write(buffer, 0, got.Count);
                    if (got.EndOfMessage) break;
                }
                return Parse(Encoding.UTF8.GetString(whole.ToArray()));
            }
        }

        static LipsyncMessage Parse(string text)
        {
            var raw = Json.Parse(text) as Dictionary<string, object>;
            if (raw == null) throw new IOException("lipsync: a message that is not a JSON object");
            var m = new LipsyncMessage { Raw = raw };
            m.Type = raw.ContainsKey("type") ? raw["type"] as string : null;
            m.Id = raw.ContainsKey("id") ? raw["id"] as string : null;
            if (raw.ContainsKey("t")) m.T = (double)raw["t"];
            if (raw.ContainsKey("stopped")) m.Stopped = (bool)raw["stopped"];
            if (raw.ContainsKey("code")) m.Code = raw["code"] as string;
            if (raw.ContainsKey("message")) m.Message = raw["message"] as string;
            var weights = raw.ContainsKey("weights") ? raw["weights"] as Dictionary<string, object> : null;
            if (weights != null) foreach (var pair in weights) m.Weights[pair.Key] = (double)pair.Value;
            var maps = raw.ContainsKey("maps") ? raw["maps"] as List<object> : null;
            if (maps != null) foreach (var name in maps) m.Maps.Add((string)name);
            return m;
        }

        /// <summary>Close politely (the server stops this client's speech).</summary>
        public async Task CloseAsync()
        {
            if (socket.State == WebSocketState.Open)
                await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
        }

        public void Dispose() { socket.Dispose(); }
    }

    /// <summary>Just enough JSON: objects (Dictionary), arrays (List), strings, doubles, bools, null.</summary>
    public static class Json
    {
        public static object Parse(string text)
        {
            int at = 0;
            var value = Value(text, ref at);
            Space(text, ref at);
            if (at != text.Length) throw new FormatException("JSON: text after the value at " + at);
            return value;
        }

        static void Space(string s, ref int at)
        {
            while (at < s.Length && (s[at] == ' ' || s[at] == '\t' || s[at] == '\n' || s[at] == '\r')) at++;
        }

        static object Value(string s, ref int at)
        {
            Space(s, ref at);
            if (at >= s.Length) throw new FormatException("JSON: unexpected end");
            char c = s[at];
            if (c == '{')
            {
                var obj = new Dictionary<string, object>();
                at++;
                Space(s, ref at);
                if (s[at] == '}') { at++; return obj; }
                while (true)
                {
                    Space(s, ref at);
                    var key = String(s, ref at);
                    Space(s, ref at);
                    Expect(s, ref at, ':');
                    obj[key] = Value(s, ref at);
                    Space(s, ref at);
                    if (s[at] == ',') { at++; continue; }
                    Expect(s, ref at, '}');
                    return obj;
                }
            }
            if (c == '[')
            {
                var list = new List<object>();
                at++;
                Space(s, ref at);
                if (s[at] == ']') { at++; return list; }
                while (true)
                {
                    list.Add(Value(s, ref at));
                    Space(s, ref at);
                    if (s[at] == ',') { at++; continue; }
                    Expect(s, ref at, ']');
                    return list;
                }
            }
            if (c == '"') return String(s, ref at);
            if (Word(s, ref at, "true")) return true;
            if (Word(s, ref at, "false")) return false;
            if (Word(s, ref at, "null")) return null;
            int start = at;
            while (at < s.Length && "+-0123456789.eE".IndexOf(s[at]) >= 0) at++;
            if (start == at) throw new FormatException("JSON: unexpected '" + c + "' at " + at);
            return double.Parse(s.Substring(start, at - start), NumberStyles.Float, CultureInfo.InvariantCulture);
        }

        static bool Word(string s, ref int at, string word)
        {
            if (string.CompareOrdinal(s, at, word, 0, word.Length) != 0) return false;
            at += word.Length;
            return true;
        }

        static void Expect(string s, ref int at, char c)
        {
            if (at >= s.Length || s[at] != c) throw new FormatException("JSON: expected '" + c + "' at " + at);
            at++;
        }

        static string String(string s, ref int at)
        {
            Expect(s, ref at, '"');
            var text = new StringBuilder();
            while (true)
            {
                if (at >= s.Length) throw new FormatException("JSON: unterminated string");
                char c = s[at++];
                if (c == '"') return text.ToString();
                if (c != '\\') { text.Append(c); continue; }
                char e = s[at++];
                switch (e)
                {
                    case 'n': text.Append('\n'); break;
                    case 't': text.Append('\t'); break;
                    case 'r': text.Append('\r'); break;
                    case 'b': text.Append('\b'); break;
                    case 'f': text.Append('\f'); break;
                    case 'u':
                        text.Append((char)int.Parse(s.Substring(at, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
                        at += 4;
                        break;
                    default: text.Append(e); break;  // " \ /
                }
            }
        }

        /// <summary>Append <paramref name="value"/> as a JSON string.</summary>
        public static void Write(StringBuilder json, string value)
        {
            json.Append('"');
            foreach (char c in value)
            {
                if (c == '"' || c == '\\') json.Append('\\').Append(c);
                else if (c < ' ') json.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                else json.Append(c);
            }
            json.Append('"');
        }
    }
}
