// Example: speak through `lipsync serve` and print each mouth frame, as an engine would apply it.
//
//   mcs -out:example.exe LipsyncClient.cs Example.cs        (Debian: apt-get install mono-mcs)
//   lipsync serve &                                          (ws://127.0.0.1:50100/lipsync)
//   mono example.exe ws://127.0.0.1:50100/lipsync "こんにちは" [MAP [FPS [INTENSITY]]]
//
// Prints "hello MAPS...", then one line per frame, "frame T name=weight ...", then "ended STOPPED".
// Exit 0 when the speech ended, 2 on an error message, 3 when no server answers.

using System;
using System.Globalization;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using Lipsync;

static class Example
{
    static int Main(string[] args)
    {
        Console.OutputEncoding = new UTF8Encoding(false);
        try { return Run(args).GetAwaiter().GetResult(); }
        catch (System.Net.WebSockets.WebSocketException e) { Console.Error.WriteLine("no server: " + e.Message); return 3; }
    }

    static async Task<int> Run(string[] args)
    {
        var inv = CultureInfo.InvariantCulture;
        string map = args.Length > 2 ? args[2] : null;
        double? fps = args.Length > 3 ? double.Parse(args[3], inv) : (double?)null;
        double? intensity = args.Length > 4 ? double.Parse(args[4], inv) : (double?)null;
        using (var client = await LipsyncClient.ConnectAsync(new Uri(args[0])))
        {
            Console.WriteLine("hello " + string.Join(" ", client.Hello.Maps));
            await client.SayAsync("cs1", args[1], map, fps, intensity);
            while (true)
            {
                var m = await client.ReceiveAsync();
                if (m.Type == "frame")
                {
                    var weights = string.Join(" ", m.Weights.Select(w => w.Key + "=" + w.Value.ToString("R", inv)));
                    Console.WriteLine("frame " + m.T.ToString("R", inv) + " " + weights);
                }
                else if (m.Type == "error")
                {
                    Console.WriteLine("error " + m.Code + " " + m.Message);
                    return 2;
                }
                else if (m.Type == "ended" && m.Id == "cs1")
                {
                    Console.WriteLine("ended " + (m.Stopped ? "stopped" : "spoken"));
                    await client.CloseAsync();
                    return 0;
                }
            }
        }
    }
}
