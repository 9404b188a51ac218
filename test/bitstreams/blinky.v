// A counter-driven LED: the smallest design that exercises logic, routing
// and a global clock, so the bitstream has real CRAM contents.
module top(input clk, output led);
  reg [23:0] cnt = 0;
  always @(posedge clk) cnt <= cnt + 1;
  assign led = cnt[23];
endmodule
