"""Recurrent cells (LSTM, GRU, RNN) against hand-computed costs.

Per time step, batch element and direction: MACs = gates·H·(I + H), gates 1 (RNN), 3 (GRU),
4 (LSTM). FLOPs: 2·MACs, the bias adds (2·gates·H when B is given) and the gate arithmetic per
hidden unit, written out in each test from the ONNX equations.
"""


from support.costcheck import single
from support.builders import one_node, zeros


def test_lstm_forward_with_bias():
    # X [seq=3, batch=2, I=4], hidden H=5: W [1, 4·5, 4], R [1, 20, 5], B [1, 2·20]
    m = one_node("LSTM", {"x": [3, 2, 4]}, {"w": zeros(1, 20, 4), "r": zeros(1, 20, 5), "b": zeros(1, 40)},
                 outputs=3, hidden_size=5)
    row = single(m)
    assert row.output_shapes == [[3, 1, 2, 5], [1, 2, 5], [1, 2, 5]]  # Y [seq, dirs, batch, H], Y_h, Y_c
    cells = 3 * 2 * 1  # time steps · batch · directions
    macs = cells * (4 * 5) * (4 + 5)  # 4 gates of H rows, each a dot product over [x, h]
    assert macs == 1080
    assert row.macs == macs
    # bias: Wb and Rb added to the 4·5 gate rows; per hidden unit 3 sigmoids (4 each), 2 tanh,
    # c = f·c + i·g (3), h = o·tanh(c) (1) = 18
    assert row.flops == 2 * macs + cells * 2 * 20 + cells * 5 * (3 * 4 + 2 + 3 + 1)
    assert row.special_ops == cells * 5 * (3 + 2)  # 3 exps, 2 tanh
    assert row.params == 20 * 4 + 20 * 5 + 40


def test_lstm_peepholes():
    # P [1, 3·H]: p_i·c, p_f·c, p_o·c added to three gates: 6 more FLOPs per hidden unit
    weights = {"w": zeros(1, 20, 4), "r": zeros(1, 20, 5), "p": zeros(1, 15)}
    m = one_node("LSTM", {"x": [3, 2, 4]}, weights, order=["x", "w", "r", "", "", "", "", "p"], hidden_size=5)
    row = single(m)
    assert row.output_shapes == [[3, 1, 2, 5]]
    cells = 3 * 2
    macs = cells * 20 * 9
    assert row.macs == macs
    assert row.flops == 2 * macs + cells * 5 * (18 + 6)  # no B
    assert row.params == 80 + 100 + 15


def test_gru_bidirectional_without_bias():
    # W [2 directions, 3·H, I] with H=5, I=4; X [seq=3, batch=2, 4]
    m = one_node("GRU", {"x": [3, 2, 4]}, {"w": zeros(2, 15, 4), "r": zeros(2, 15, 5)},
                 outputs=2, hidden_size=5, direction="bidirectional")
    row = single(m)
    assert row.output_shapes == [[3, 2, 2, 5], [2, 2, 5]]
    cells = 3 * 2 * 2
    macs = cells * (3 * 5) * (4 + 5)
    assert row.macs == macs == 1620
    # per hidden unit: z and r sigmoids (4 each), r·(…) (1), tanh (1), (1 - z)·h̃ + z·h (4) = 14
    assert row.flops == 2 * macs + cells * 5 * (4 + 4 + 1 + 1 + 4)
    assert row.special_ops == cells * 5 * 3
    assert row.params == 2 * 15 * 4 + 2 * 15 * 5


def test_rnn_batch_first_layout():
    # layout 1: X [batch=2, seq=3, I=4]; Y [batch, seq, dirs, H] (onnxruntime has no kernel for layout 1)
    m = one_node("RNN", {"x": [2, 3, 4]}, {"w": zeros(1, 5, 4), "r": zeros(1, 5, 5), "b": zeros(1, 10)},
                 hidden_size=5, layout=1, opset=14)
    row = single(m, expected={"y": [2, 3, 1, 5]})
    cells = 2 * 3
    macs = cells * 5 * (4 + 5)
    assert row.macs == macs == 270
    assert row.flops == 2 * macs + cells * 2 * 5 + cells * 5 * 1  # bias adds, one tanh per unit
    assert row.special_ops == cells * 5


def test_rnn_reverse():
    # X [seq=4, batch=1, I=3], H=2, run backwards; no bias
    m = one_node("RNN", {"x": [4, 1, 3]}, {"w": zeros(1, 2, 3), "r": zeros(1, 2, 2)}, outputs=2,
                 hidden_size=2, direction="reverse")
    row = single(m)
    assert row.output_shapes == [[4, 1, 1, 2], [1, 1, 2]]
    cells = 4 * 1 * 1
    assert row.macs == cells * 2 * (3 + 2) == 40
    assert row.flops == 2 * 40 + cells * 2 * 1
    assert row.special_ops == cells * 2
