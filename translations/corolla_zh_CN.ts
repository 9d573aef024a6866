<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name>corolla::BlockMapModel</name>
    <message>
        <location filename="../ui/blockmapmodel.cpp" line="42"/>
        <source>Block %1: no server holds it</source>
        <translation>第 %1 块：没有服务器提供</translation>
    </message>
    <message numerus="yes">
        <location filename="../ui/blockmapmodel.cpp" line="43"/>
        <source>Block %1: %n server(s), %2 tokens/s</source>
        <translation>
            <numerusform>第 %1 块：%n 台服务器，%2 词元/秒</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../ui/blockmapmodel.cpp" line="47"/>
        <source>, served by this computer</source>
        <translation>，由本机提供</translation>
    </message>
    <message>
        <location filename="../ui/blockmapmodel.cpp" line="74"/>
        <source>Block</source>
        <translation>块</translation>
    </message>
    <message>
        <location filename="../ui/blockmapmodel.cpp" line="75"/>
        <source>Servers</source>
        <translation>服务器</translation>
    </message>
    <message>
        <location filename="../ui/blockmapmodel.cpp" line="76"/>
        <source>Throughput</source>
        <translation>吞吐量</translation>
    </message>
    <message>
        <location filename="../ui/blockmapmodel.cpp" line="77"/>
        <source>This computer</source>
        <translation>本机</translation>
    </message>
</context>
<context>
    <name>corolla::ChatPage</name>
    <message>
        <location filename="../ui/chatpage.cpp" line="79"/>
        <source>New conversation</source>
        <translation>新对话</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="80"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="96"/>
        <source>System prompt (optional): how the assistant should behave</source>
        <translation>系统提示（可选）：助手应如何表现</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="106"/>
        <source>Type a message</source>
        <translation>输入消息</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="108"/>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="111"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="112"/>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="113"/>
        <source>Edit last message</source>
        <translation>编辑上一条消息</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="132"/>
        <source>Sampling</source>
        <translation>采样</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="145"/>
        <source>off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="159"/>
        <source>Temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="160"/>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="161"/>
        <source>Top-k</source>
        <translation>Top-k</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="162"/>
        <source>Max tokens</source>
        <translation>最大词元数</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="163"/>
        <source>Seed</source>
        <translation>随机种子</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="110"/>
        <source>Send (Ctrl+Enter)</source>
        <translation>发送（Ctrl+Enter）</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="331"/>
        <source>No model is ready for chatting. Choose a model in Settings, or start the local demo swarm.</source>
        <translation>没有可用于聊天的模型。请在“设置”中选择模型，或启动本地演示集群。</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="334"/>
        <source>The swarm has no server for blocks %1 of this model, so it cannot answer yet. Turn on &quot;Donate my GPU&quot; to serve them yourself, wait for servers to join, or start the local demo swarm.</source>
        <translation>集群中没有服务器提供此模型的第 %1 块，因此暂时无法回答。请打开“捐献我的 GPU”亲自提供这些块，等待其他服务器加入，或启动本地演示集群。</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="339"/>
        <source>The answer failed: %1</source>
        <translation>回答失败：%1</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="386"/>
        <source>You</source>
        <translation>你</translation>
    </message>
    <message numerus="yes">
        <location filename="../ui/chatpage.cpp" line="390"/>
        <source>%n token(s), first after %1 s, %2 tokens/s</source>
        <translation>
            <numerusform>%n 个词元，首个词元用时 %1 秒，%2 词元/秒</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="394"/>
        <source>; route: %1</source>
        <translation>；路由：%1</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="396"/>
        <source> (stopped)</source>
        <translation>（已停止）</translation>
    </message>
    <message>
        <location filename="../ui/chatpage.cpp" line="397"/>
        <location filename="../ui/chatpage.cpp" line="401"/>
        <source>Assistant</source>
        <translation>助手</translation>
    </message>
</context>
<context>
    <name>corolla::ContributePage</name>
    <message>
        <location filename="../ui/contributepage.cpp" line="61"/>
        <source>Donate my GPU</source>
        <translation>捐献我的 GPU</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="44"/>
        <source>CPU</source>
        <translation>CPU</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="46"/>
        <source>GPU %1</source>
        <translation>GPU %1</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="47"/>
        <source>GPU %1: %2 (%3 free of %4)</source>
        <translation>GPU %1：%2（空闲 %3，共 %4）</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="72"/>
        <source>Automatic (a GPU when there is one)</source>
        <translation>自动（有 GPU 时用 GPU）</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="80"/>
        <source> MiB</source>
        <translation> MiB</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="81"/>
        <source>automatic (half the RAM, or most of a GPU&apos;s)</source>
        <translation>自动（一半内存，或 GPU 的大部分显存）</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="85"/>
        <source>automatic</source>
        <translation>自动</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="88"/>
        <source>bfloat16 (half the memory)</source>
        <translation>bfloat16（内存减半）</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="90"/>
        <source>float32</source>
        <translation>float32</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="93"/>
        <source>as in the model (exact)</source>
        <translation>与模型一致（精确）</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="95"/>
        <source>int8 (about half of bfloat16)</source>
        <translation>int8（约为 bfloat16 的一半）</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="97"/>
        <source>NF4 (about a quarter of bfloat16)</source>
        <translation>NF4（约为 bfloat16 的四分之一）</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="100"/>
        <source>Packed weights take less memory, so this computer holds more blocks, and decode faster; they change the answers slightly.</source>
        <translation>压缩的权重占用更少内存，这台电脑因此能承载更多的块，解码也更快；回答会略有不同。</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="105"/>
        <source>Serve with</source>
        <translation>服务设置</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="107"/>
        <source>Device</source>
        <translation>设备</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="108"/>
        <source>Memory budget</source>
        <translation>内存预算</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="109"/>
        <source>Blocks</source>
        <translation>块</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="110"/>
        <source>Precision</source>
        <translation>精度</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="111"/>
        <source>Weights</source>
        <translation>权重</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="113"/>
        <source>Block map</source>
        <translation>块分布图</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="121"/>
        <source>This computer</source>
        <translation>本机</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="130"/>
        <source>Tokens served</source>
        <translation>已服务词元</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="130"/>
        <source>Requests</source>
        <translation>请求数</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="131"/>
        <source>Open sessions</source>
        <translation>活动会话</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="131"/>
        <source>Uptime</source>
        <translation>运行时间</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="132"/>
        <source>Current load</source>
        <translation>当前负载</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="132"/>
        <source>Network in / out</source>
        <translation>网络 入 / 出</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="191"/>
        <source>Not donating. Turn the switch on to lend this computer to the swarm.</source>
        <translation>未在捐献。打开开关即可把本机借给集群。</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="193"/>
        <source>Paused until %1.</source>
        <translation>已暂停，直到 %1。</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="197"/>
        <source>Waiting for mains power (you asked to serve only when plugged in).</source>
        <translation>等待接通电源（你设置了仅在接通电源时提供服务）。</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="199"/>
        <source>Waiting until the computer is idle (you asked to serve only then).</source>
        <translation>等待电脑空闲（你设置了仅在空闲时提供服务）。</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="204"/>
        <source>Serving blocks %1–%2 of %3 on port %4.</source>
        <translation>正在端口 %4 上提供共 %3 块中的第 %1–%2 块。</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="209"/>
        <source>Serving stopped: %1</source>
        <translation>服务已停止：%1</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="213"/>
        <source>Choosing and loading blocks…</source>
        <translation>正在选择并加载块…</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="227"/>
        <source>%1 tokens/s, %2 queued</source>
        <translation>%1 词元/秒，%2 个排队</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="230"/>
        <source>%1 / %2</source>
        <translation>%1 / %2</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="234"/>
        <source>No model yet: choose one in Settings, or start the local demo swarm.</source>
        <translation>尚无模型：请在“设置”中选择，或启动本地演示集群。</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="237"/>
        <source>%1: all %2 blocks are served. Green is throughput; outlined blocks are this computer&apos;s.</source>
        <translation>%1：全部 %2 块均有服务。绿色深浅表示吞吐量；带边框的块由本机提供。</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="239"/>
        <location filename="../ui/contributepage.cpp" line="245"/>
        <source>Demo model</source>
        <translation>演示模型</translation>
    </message>
    <message numerus="yes">
        <location filename="../ui/contributepage.cpp" line="243"/>
        <source>%1: %n block(s) have no server (red). Donating fills the weakest blocks first.</source>
        <translation>
            <numerusform>%1：%n 块没有服务器（红色）。捐献时会优先补上最薄弱的块。</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="253"/>
        <source>Local API server: off (turn it on in Settings).</source>
        <translation>本地 API 服务器：已关闭（可在“设置”中开启）。</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="255"/>
        <source>Local API server: starting…</source>
        <translation>本地 API 服务器：正在启动…</translation>
    </message>
    <message numerus="yes">
        <location filename="../ui/contributepage.cpp" line="257"/>
        <source>Local API server: %1, model &quot;%2&quot;; %n request(s) running.</source>
        <translation>
            <numerusform>本地 API 服务器：%1，模型“%2”；%n 个请求正在运行。</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="264"/>
        <source>Local API server: waiting for a model (choose one in Settings).</source>
        <translation>本地 API 服务器：等待模型（请在“设置”中选择）。</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="267"/>
        <source>Local API server: port %1 is taken by another program; choose another in Settings.</source>
        <translation>本地 API 服务器：端口 %1 已被其他程序占用，请在“设置”中另选一个。</translation>
    </message>
    <message>
        <location filename="../ui/contributepage.cpp" line="273"/>
        <source>Local API server failed: %1</source>
        <translation>本地 API 服务器出错：%1</translation>
    </message>
</context>
<context>
    <name>corolla::ConversationsModel</name>
    <message>
        <location filename="../ui/conversationsmodel.cpp" line="63"/>
        <source>%1 could not be read (%2); it was kept as %1.unreadable</source>
        <translation>无法读取 %1（%2）；已保留为 %1.unreadable</translation>
    </message>
    <message>
        <location filename="../ui/conversationsmodel.cpp" line="78"/>
        <location filename="../ui/conversationsmodel.cpp" line="93"/>
        <source>not a conversations file of this version</source>
        <translation>不是此版本的对话文件</translation>
    </message>
    <message>
        <location filename="../ui/conversationsmodel.cpp" line="123"/>
        <source>cannot save the conversations to %1: %2</source>
        <translation>无法将对话保存到 %1：%2</translation>
    </message>
    <message>
        <location filename="../ui/conversationsmodel.cpp" line="140"/>
        <source>New conversation</source>
        <translation>新对话</translation>
    </message>
    <message numerus="yes">
        <location filename="../ui/conversationsmodel.cpp" line="191"/>
        <source>%n message(s), last %1</source>
        <translation>
            <numerusform>%n 条消息，最近一次 %1</numerusform>
        </translation>
    </message>
</context>
<context>
    <name>corolla::DownloadController</name>
    <message>
        <location filename="../ui/downloadcontroller.cpp" line="33"/>
        <source>%1 is ready.</source>
        <translation>%1 已就绪。</translation>
    </message>
    <message>
        <location filename="../ui/downloadcontroller.cpp" line="35"/>
        <source>Download of %1 cancelled; downloading it again continues where it stopped.</source>
        <translation>已取消下载 %1；再次下载会从中断处继续。</translation>
    </message>
    <message>
        <location filename="../ui/downloadcontroller.cpp" line="39"/>
        <source>Download of %1 failed: %2</source>
        <translation>下载 %1 失败：%2</translation>
    </message>
    <message>
        <location filename="../ui/downloadcontroller.cpp" line="43"/>
        <source>Asking the Hub about %1…</source>
        <translation>正在向 Hub 查询 %1…</translation>
    </message>
    <message>
        <location filename="../ui/downloadcontroller.cpp" line="44"/>
        <source>%1: file %2 of %3 (%4), %5 of %6</source>
        <translation>%1：第 %2 个文件，共 %3 个（%4），%5 / %6</translation>
    </message>
    <message>
        <location filename="../ui/downloadcontroller.cpp" line="50"/>
        <source>, %1/s</source>
        <translation>，%1/秒</translation>
    </message>
    <message>
        <location filename="../ui/downloadcontroller.cpp" line="51"/>
        <source>, %1 left</source>
        <translation>，剩余 %1</translation>
    </message>
    <message>
        <location filename="../ui/downloadcontroller.cpp" line="73"/>
        <source>&quot;%1&quot; is not a Hub model name; write ORG/NAME, e.g. TinyLlama/TinyLlama-1.1B-Chat-v1.0.</source>
        <translation>“%1”不是 Hub 上的模型名称；请写成 ORG/NAME，例如 TinyLlama/TinyLlama-1.1B-Chat-v1.0。</translation>
    </message>
</context>
<context>
    <name>corolla::MainWindow</name>
    <message>
        <location filename="../ui/mainwindow.cpp" line="44"/>
        <location filename="../ui/mainwindow.cpp" line="176"/>
        <source>Corolla</source>
        <translation>Corolla</translation>
    </message>
    <message>
        <location filename="../ui/mainwindow.cpp" line="63"/>
        <source>Contribute</source>
        <translation>贡献</translation>
    </message>
    <message>
        <location filename="../ui/mainwindow.cpp" line="64"/>
        <source>Swarm</source>
        <translation>集群</translation>
    </message>
    <message>
        <location filename="../ui/mainwindow.cpp" line="65"/>
        <source>Chat</source>
        <translation>聊天</translation>
    </message>
    <message>
        <location filename="../ui/mainwindow.cpp" line="66"/>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <location filename="../ui/mainwindow.cpp" line="73"/>
        <source>No swarm is reachable from this computer. Try Corolla offline with the bundled demo model: a local demo swarm of %1 servers runs inside the app, so donating, the block map, the peers and the chat all work without a network.</source>
        <translation>本机无法连接到任何集群。可以用内置的演示模型离线体验 Corolla：应用内会运行一个由 %1 台服务器组成的本地演示集群，捐献、块分布图、节点列表和聊天都无需网络即可使用。</translation>
    </message>
    <message>
        <location filename="../ui/mainwindow.cpp" line="78"/>
        <source>Start the local demo swarm</source>
        <translation>启动本地演示集群</translation>
    </message>
    <message>
        <location filename="../ui/mainwindow.cpp" line="151"/>
        <source>Starting the local demo swarm…</source>
        <translation>正在启动本地演示集群…</translation>
    </message>
    <message>
        <location filename="../ui/mainwindow.cpp" line="175"/>
        <source>Demo model</source>
        <translation>演示模型</translation>
    </message>
    <message>
        <location filename="../ui/mainwindow.cpp" line="176"/>
        <source>Corolla — %1</source>
        <translation>Corolla — %1</translation>
    </message>
    <message>
        <location filename="../ui/mainwindow.cpp" line="192"/>
        <source>Corolla is still running</source>
        <translation>Corolla 仍在运行</translation>
    </message>
    <message>
        <location filename="../ui/mainwindow.cpp" line="193"/>
        <source>Corolla keeps serving from the tray. Right-click the tray icon to pause or quit.</source>
        <translation>Corolla 会在系统托盘中继续提供服务。右键单击托盘图标可暂停或退出。</translation>
    </message>
</context>
<context>
    <name>corolla::ModelPicker</name>
    <message>
        <location filename="../ui/modelpicker.cpp" line="61"/>
        <source>Get a model</source>
        <translation>获取模型</translation>
    </message>
    <message>
        <location filename="../ui/modelpicker.cpp" line="64"/>
        <source>Models known to run on Corolla, with their whole size in each weight format. Chatting downloads only what this computer needs to use the swarm (the tokenizer, embeddings and output layer); serving downloads the weights of the blocks it serves. Files land in the shared Hugging Face cache, so Python tools find them too.</source>
        <translation>已知可在 Corolla 上运行的模型，以及各权重格式下的完整大小。聊天只下载本机使用集群所需的部分（分词器、嵌入层和输出层）；提供服务时下载所服务的块的权重。文件存放在共享的 Hugging Face 缓存中，Python 工具也能找到它们。</translation>
    </message>
    <message>
        <location filename="../ui/modelpicker.cpp" line="73"/>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../ui/modelpicker.cpp" line="73"/>
        <source>Family</source>
        <translation>系列</translation>
    </message>
    <message>
        <location filename="../ui/modelpicker.cpp" line="73"/>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <location filename="../ui/modelpicker.cpp" line="73"/>
        <source>Blocks</source>
        <translation>块数</translation>
    </message>
    <message>
        <location filename="../ui/modelpicker.cpp" line="74"/>
        <source>bf16</source>
        <translation>bf16</translation>
    </message>
    <message>
        <location filename="../ui/modelpicker.cpp" line="74"/>
        <source>int8</source>
        <translation>int8</translation>
    </message>
    <message>
        <location filename="../ui/modelpicker.cpp" line="74"/>
        <source>nf4</source>
        <translation>nf4</translation>
    </message>
    <message>
        <location filename="../ui/modelpicker.cpp" line="96"/>
        <source>Or any model on the Hub: ORG/NAME, e.g. Qwen/Qwen2.5-0.5B-Instruct</source>
        <translation>或 Hub 上的任意模型：ORG/NAME，例如 Qwen/Qwen2.5-0.5B-Instruct</translation>
    </message>
    <message>
        <location filename="../ui/modelpicker.cpp" line="98"/>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../ui/modelpicker.cpp" line="100"/>
        <source>Cancel download</source>
        <translation>取消下载</translation>
    </message>
</context>
<context>
    <name>corolla::PeersModel</name>
    <message>
        <location filename="../ui/peersmodel.cpp" line="72"/>
        <source>%1 (this computer)</source>
        <translation>%1（本机）</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="73"/>
        <source>unnamed</source>
        <translation>未命名</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="77"/>
        <source>%1–%2</source>
        <translation>%1–%2</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="81"/>
        <source>%1 tok/s</source>
        <translation>%1 词元/秒</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="80"/>
        <location filename="../ui/peersmodel.cpp" line="82"/>
        <source>—</source>
        <translation>—</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="82"/>
        <source>%1 ms</source>
        <translation>%1 毫秒</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="83"/>
        <source>%1 tokens</source>
        <translation>%1 词元</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="86"/>
        <source>online</source>
        <translation>在线</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="87"/>
        <source>joining</source>
        <translation>加入中</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="88"/>
        <source>offline</source>
        <translation>离线</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="141"/>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="142"/>
        <source>Peer ID</source>
        <translation>节点 ID</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="143"/>
        <source>Version</source>
        <translation>版本</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="144"/>
        <source>Blocks</source>
        <translation>块</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="145"/>
        <source>Weights</source>
        <translation>权重</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="146"/>
        <source>Adapters</source>
        <translation>适配器</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="147"/>
        <source>Throughput</source>
        <translation>吞吐量</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="148"/>
        <source>Ping</source>
        <translation>延迟</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="149"/>
        <source>Cache left</source>
        <translation>剩余缓存</translation>
    </message>
    <message>
        <location filename="../ui/peersmodel.cpp" line="150"/>
        <source>State</source>
        <translation>状态</translation>
    </message>
</context>
<context>
    <name>corolla::SettingsPage</name>
    <message>
        <location filename="../ui/autostart.cpp" line="41"/>
        <source>the registry refused the change</source>
        <translation>注册表拒绝了此更改</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="47"/>
        <source>A model folder with config.json, e.g. ~/models/Llama-2-70b-chat-hf</source>
        <translation>包含 config.json 的模型文件夹，例如 ~/models/Llama-2-70b-chat-hf</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="48"/>
        <source>Get a model…</source>
        <translation>获取模型…</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="50"/>
        <source>Browse…</source>
        <translation>浏览…</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="51"/>
        <source>Use the local demo swarm</source>
        <translation>使用本地演示集群</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="64"/>
        <source>host:port of DHT nodes, separated by commas</source>
        <translation>DHT 节点的 host:port，用逗号分隔</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="65"/>
        <source>Find peers on the local network</source>
        <translation>在局域网中查找节点</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="68"/>
        <source>One server per line: host:port [peer ID]</source>
        <translation>每行一台服务器：host:port [节点 ID]</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="72"/>
        <source>any free port</source>
        <translation>任意空闲端口</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="74"/>
        <source>Shown to other peers, e.g. your nickname</source>
        <translation>向其他节点显示，例如你的昵称</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="76"/>
        <source>Answer OpenAI-compatible requests on this computer</source>
        <translation>在本机响应 OpenAI 兼容的请求</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="83"/>
        <source>Optional: the key clients must send</source>
        <translation>可选：客户端必须发送的密钥</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="85"/>
        <source>Tools that speak the OpenAI API (editors, chat front ends, scripts) use the chat&apos;s model through the swarm at http://127.0.0.1:PORT/v1. Only programs on this computer can reach it.</source>
        <translation>支持 OpenAI API 的工具（编辑器、聊天前端、脚本）可通过 http://127.0.0.1:端口/v1 经由集群使用聊天所用的模型。只有本机上的程序可以访问。</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="90"/>
        <source>Serve only on mains power</source>
        <translation>仅在接通电源时提供服务</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="91"/>
        <source>Serve only when the computer is idle</source>
        <translation>仅在电脑空闲时提供服务</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="92"/>
        <source>Start Corolla when I log in</source>
        <translation>登录时启动 Corolla</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="94"/>
        <source>Start minimized to the tray</source>
        <translation>启动时最小化到托盘</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="95"/>
        <source>Closing the window keeps Corolla running in the tray</source>
        <translation>关闭窗口后 Corolla 继续在托盘中运行</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="97"/>
        <source>System language</source>
        <translation>系统语言</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="101"/>
        <source>Swarm</source>
        <translation>集群</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="103"/>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="105"/>
        <source>DHT bootstrap nodes</source>
        <translation>DHT 引导节点</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="107"/>
        <source>Static peers</source>
        <translation>静态节点</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="108"/>
        <source>Server port</source>
        <translation>服务器端口</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="109"/>
        <source>Public name</source>
        <translation>公开名称</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="111"/>
        <source>Local API server</source>
        <translation>本地 API 服务器</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="114"/>
        <source>Port</source>
        <translation>端口</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="115"/>
        <source>API key</source>
        <translation>API 密钥</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="118"/>
        <source>Application</source>
        <translation>应用程序</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="125"/>
        <source>Language</source>
        <translation>语言</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="129"/>
        <source>Apply</source>
        <translation>应用</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="143"/>
        <source>Choose a model folder</source>
        <translation>选择模型文件夹</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="186"/>
        <source>%1 is not a model folder: it has no config.json.</source>
        <translation>%1 不是模型文件夹：其中没有 config.json。</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="189"/>
        <source>&quot;%1&quot; is not a DHT node address; write host:port.</source>
        <translation>“%1”不是 DHT 节点地址；请写成 host:port。</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="192"/>
        <source>Static peers, line %1: write host:port, optionally followed by the peer ID.</source>
        <translation>静态节点第 %1 行：请写成 host:port，后面可加节点 ID。</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="195"/>
        <source>The API server and the block server need different ports.</source>
        <translation>API 服务器和块服务器需要使用不同的端口。</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="198"/>
        <source>The API key may hold letters, digits and punctuation, but no spaces.</source>
        <translation>API 密钥可以包含字母、数字和标点符号，但不能包含空格。</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="229"/>
        <source>Could not change starting at login: %1</source>
        <translation>无法更改登录时启动：%1</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="239"/>
        <source>Saved. The new language is used from the next start.</source>
        <translation>已保存。新语言将在下次启动时生效。</translation>
    </message>
    <message>
        <location filename="../ui/settingspage.cpp" line="240"/>
        <source>Saved.</source>
        <translation>已保存。</translation>
    </message>
</context>
<context>
    <name>corolla::SwarmPage</name>
    <message>
        <location filename="../ui/swarmpage.cpp" line="47"/>
        <source>Swarm throughput (tokens/s)</source>
        <translation>集群吞吐量（词元/秒）</translation>
    </message>
    <message>
        <location filename="../ui/swarmpage.cpp" line="49"/>
        <source>Served by this computer (tokens/s)</source>
        <translation>本机服务量（词元/秒）</translation>
    </message>
    <message>
        <location filename="../ui/swarmpage.cpp" line="54"/>
        <source>Minutes</source>
        <translation>分钟</translation>
    </message>
    <message>
        <location filename="../ui/swarmpage.cpp" line="57"/>
        <source>Tokens/s</source>
        <translation>词元/秒</translation>
    </message>
    <message>
        <location filename="../ui/swarmpage.cpp" line="83"/>
        <source>Not connected to a swarm yet.</source>
        <translation>尚未连接到集群。</translation>
    </message>
    <message>
        <location filename="../ui/swarmpage.cpp" line="84"/>
        <source>Not connected: %1</source>
        <translation>未连接：%1</translation>
    </message>
    <message>
        <location filename="../ui/swarmpage.cpp" line="85"/>
        <source>Demo model (local demo swarm)</source>
        <translation>演示模型（本地演示集群）</translation>
    </message>
    <message numerus="yes">
        <location filename="../ui/swarmpage.cpp" line="88"/>
        <source>%1: every one of its %2 blocks is served by %n server(s); the swarm can serve about %3 tokens/s.</source>
        <translation>
            <numerusform>%1：全部 %2 块均由 %n 台服务器提供；集群大约可提供 %3 词元/秒。</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../ui/swarmpage.cpp" line="99"/>
        <source>%1: blocks %2 have no server, so the model cannot run until someone serves them.</source>
        <translation>%1：第 %2 块没有服务器，在有人提供之前模型无法运行。</translation>
    </message>
    <message>
        <location filename="../ui/swarmpage.cpp" line="103"/>
        <source>Problem: %1</source>
        <translation>问题：%1</translation>
    </message>
</context>
<context>
    <name>corolla::TrayController</name>
    <message>
        <location filename="../ui/traycontroller.cpp" line="23"/>
        <source>Donate my GPU</source>
        <translation>捐献我的 GPU</translation>
    </message>
    <message>
        <location filename="../ui/traycontroller.cpp" line="25"/>
        <location filename="../ui/traycontroller.cpp" line="105"/>
        <source>Pause for 1 hour</source>
        <translation>暂停 1 小时</translation>
    </message>
    <message>
        <location filename="../ui/traycontroller.cpp" line="27"/>
        <source>Open Corolla</source>
        <translation>打开 Corolla</translation>
    </message>
    <message>
        <location filename="../ui/traycontroller.cpp" line="28"/>
        <source>Quit</source>
        <translation>退出</translation>
    </message>
    <message>
        <location filename="../ui/traycontroller.cpp" line="84"/>
        <source>Serving blocks %1–%2 at %3 tokens/s</source>
        <translation>正在提供第 %1–%2 块，%3 词元/秒</translation>
    </message>
    <message>
        <location filename="../ui/traycontroller.cpp" line="88"/>
        <source>Starting to serve…</source>
        <translation>正在开始服务…</translation>
    </message>
    <message>
        <location filename="../ui/traycontroller.cpp" line="90"/>
        <source>Not donating</source>
        <translation>未在捐献</translation>
    </message>
    <message>
        <location filename="../ui/traycontroller.cpp" line="92"/>
        <source>Paused until %1</source>
        <translation>已暂停，直到 %1</translation>
    </message>
    <message>
        <location filename="../ui/traycontroller.cpp" line="96"/>
        <source>Waiting for mains power</source>
        <translation>等待接通电源</translation>
    </message>
    <message>
        <location filename="../ui/traycontroller.cpp" line="97"/>
        <source>Waiting until the computer is idle</source>
        <translation>等待电脑空闲</translation>
    </message>
    <message>
        <location filename="../ui/traycontroller.cpp" line="99"/>
        <source>Corolla: %1</source>
        <translation>Corolla：%1</translation>
    </message>
    <message>
        <location filename="../ui/traycontroller.cpp" line="105"/>
        <source>Resume donating</source>
        <translation>恢复捐献</translation>
    </message>
</context>
</TS>
